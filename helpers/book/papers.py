"""Published numbers the chapters set beside ours: one place, each with its source.

These are the papers' figures, copied from the cited page or table (see ``../shared/papers.md`` for
the list the course checks against). Our own numbers never live here: they come from code.
"""

from __future__ import annotations

PUBLISHED = {
    # Brown et al. 2020, Table D.1: GPT-3 175B, 300B training tokens, 3.14e23 training FLOPs
    "gpt3": {"name": "GPT-3 175B", "params": 175e9, "tokens": 300e9, "flops": 3.14e23, "cite": "brown2020language"},
    # Hoffmann et al. 2022: Chinchilla, 70B parameters trained on 1.4T tokens
    "chinchilla": {"name": "Chinchilla 70B", "params": 70e9, "tokens": 1.4e12, "cite": "hoffmann2022training"},
    # nanoGPT README, shakespeare_char: CPU recipe (4 layers, 4 heads, width 128, context 64, batch 12,
    # 2000 iterations) reaches validation loss 1.88; GPU recipe (6 x 6 x 384, context 256) 1.4697
    "nanogpt_cpu": {
        "name": "nanoGPT, CPU recipe (TinyShakespeare)",
        "val_loss": 1.88,
        "n_layer": 4,
        "d_model": 128,
        "context": 64,
        "batch_size": 12,
        "steps": 2000,
        "cite": "karpathy2022nanogpt",
    },
    "nanogpt_gpu": {
        "name": "nanoGPT, GPU recipe (TinyShakespeare)",
        "val_loss": 1.4697,  # the best validation loss of the run (checkpoints are kept only when it improves)
        "n_layer": 6,
        "d_model": 384,
        "context": 256,
        "batch_size": 64,  # config/train_shakespeare_char.py: batch_size 64, block_size 256, max_iters 5000
        "steps": 5000,
        "cite": "karpathy2022nanogpt",
    },
    # Kaplan et al. 2020: single-variable power laws in non-embedding N, tokens D and compute C (WebText2,
    # BPE, 768 to 1.5B non-embedding parameters); compute-efficient allocation N_opt ∝ C^0.73
    "kaplan": {
        "name": "Kaplan et al. 2020",
        "alpha_N": 0.076,
        "alpha_D": 0.095,
        "alpha_C": 0.050,
        "a": 0.73,
        "cite": "kaplan2020scaling",
    },
    # Hoffmann et al. 2022: approach 3 constants of L(N, D) = E + A/N^α + B/D^β, and the exponents
    # a (N_opt ∝ C^a) of approaches 1, 2 and 3 (Table 2); about 20 tokens per parameter (Table 3)
    "hoffmann": {
        "name": "Hoffmann et al. 2022 (Chinchilla)",
        "E": 1.69,
        "A": 406.4,
        "B": 410.7,
        "alpha": 0.34,
        "beta": 0.28,
        "a_approach": {1: 0.50, 2: 0.49, 3: 0.46},
        "tokens_per_param": 20,
        "compute": 5.76e23,  # the Gopher / Chinchilla budget the paper allocates
        "cite": "hoffmann2022training",
    },
    # Besiroglu et al. 2024 (Epoch AI): refit of Hoffmann's approach-3 data, with 95% intervals
    "epoch": {
        "name": "Besiroglu et al. 2024 (Epoch AI replication)",
        "E": 1.82,
        "A": 482.0,
        "B": 2085.0,
        "alpha": 0.348,
        "beta": 0.366,
        "ci95": {"E": (1.77, 1.87), "alpha": (0.317, 0.373), "beta": (0.331, 0.415)},
        "cite": "besiroglu2024chinchilla",
    },
    # Wei et al. 2022 (Emergent abilities), Figure 2A: GPT-3's few-shot modular arithmetic (3-digit addition and
    # subtraction, 2-digit multiplication) stays near zero accuracy, then rises above chance around 13B parameters,
    # 2.3e22 training FLOPs
    "wei_arithmetic": {
        "name": "GPT-3, 3-digit addition (Wei et al. 2022)",
        "params": 13e9,
        "flops": 2.3e22,
        "cite": "wei2022emergent",
    },
    # Schaeffer et al. 2023: with per-token accuracy p rising smoothly, exact match over L tokens is about p^L
    "schaeffer": {"name": "Schaeffer et al. 2023", "rule": "exact match ≈ p^L", "cite": "schaeffer2023emergent"},
    # Wei et al. 2022 (Chain-of-thought prompting): PaLM 540B on GSM8K, 17.9% with standard few-shot prompts, 56.9%
    # with chain-of-thought prompts; the gain appears only at large scale
    "wei_cot": {
        "name": "PaLM 540B on GSM8K (Wei et al. 2022)",
        "standard": 0.179,
        "cot": 0.569,
        "cite": "wei2022chain",
    },
    # Lee et al. 2023 (Teaching arithmetic to small transformers): a 6-layer character NanoGPT; reversed answers and
    # scratchpads need far fewer examples than the plain format, which never reaches 100%
    "lee_formats": {"name": "Lee et al. 2023", "model": "6-layer character NanoGPT", "cite": "lee2023teaching"},
    # Shannon 1951: entropy of printed English, 0.6 to 1.3 bits per letter with long context
    "shannon": {
        "name": "Shannon's estimate for English",
        "bits_low": 0.6,
        "bits_high": 1.3,
        "cite": "shannon1951prediction",
    },
    # Olsson et al. 2022, In-context learning and induction heads: the ICL score is the loss at the 500th token
    # minus the loss at the 50th; induction heads (prefix matching + copying) need at least two layers and form in
    # a phase change
    "olsson_induction": {
        "name": "Olsson et al. 2022",
        "late_token": 500,
        "early_token": 50,
        "min_layers": 2,
        "cite": "olsson2022context",
    },
    # Garg et al. 2022: a GPT-2-style transformer (12 layers, width 256, 8 heads) trained on linear functions with
    # d = 20 (curriculum on d and prompt length, 500k steps) matches least squares and beats 3-NN and averaging
    "garg_regression": {
        "name": "Garg et al. 2022",
        "dim": 20,
        "n_layer": 12,
        "d_model": 256,
        "cite": "garg2022what",
    },
    # Brown et al. 2020 (GPT-3): few-shot gains grow with model size across 125M to 175B parameters
    "brown_few_shot": {
        "name": "Brown et al. 2020 (GPT-3)",
        "params_low": 1.25e8,
        "params_high": 1.75e11,
        "cite": "brown2020language",
    },
    # Chan et al. 2022: in-context learning emerges with bursty training data (and many rare classes); without
    # burstiness the model learns in its weights instead
    "chan_bursty": {"name": "Chan et al. 2022", "cite": "chan2022data"},
    # Christiano et al. 2017: a reward model fitted to pairwise comparisons, P(a ≻ b) = σ(r(a) − r(b)) (Bradley–Terry)
    "christiano_bt": {
        "name": "Christiano et al. 2017",
        "rule": "P(a ≻ b) = σ(r(a) − r(b))",
        "cite": "christiano2017deep",
    },
    # Ouyang et al. 2022 (InstructGPT): SFT -> reward model -> PPO maximising r − β log(π/π_SFT), with β = 0.02
    "instructgpt": {"name": "Ouyang et al. 2022 (InstructGPT)", "kl_coef": 0.02, "cite": "ouyang2022training"},
    # Schulman et al. 2017: PPO's clipped objective min(ρA, clip(ρ, 1 − ε, 1 + ε)A), ε = 0.2 in their experiments
    "ppo": {"name": "Schulman et al. 2017 (PPO)", "clip": 0.2, "cite": "schulman2017proximal"},
    # Rafailov et al. 2023: DPO's loss −log σ(β[log π/π_ref(y_w) − log π/π_ref(y_l)]), β typically 0.1 to 0.5
    "dpo": {"name": "Rafailov et al. 2023 (DPO)", "beta_low": 0.1, "beta_high": 0.5, "cite": "rafailov2023direct"},
    # Gao et al. 2022: with d = √KL, gold reward ≈ d(α − βd) under best-of-n and d(α − β log d) under RL; proxy reward
    # keeps rising while gold peaks; bigger reward models push the peak out
    "gao": {
        "name": "Gao et al. 2022",
        "bon": "d(α − βd)",
        "rl": "d(α − β log d)",
        "cite": "gao2022scaling",
    },
    # Wortsman et al. 2023: small Transformers reproduce two instabilities at high learning rate, attention-logit
    # growth (fixed by QK-layernorm) and output-logit divergence (fixed by z-loss, 1e-4 · log² Z); setup pre-LN,
    # AdamW (0.9, 0.95), ε 1e-8, clipping at 1, warmup, cosine decay, learning rates swept 3e-4 to 3e-1
    "wortsman": {
        "name": "Wortsman et al. 2023",
        "lr_low": 3e-4,
        "lr_high": 3e-1,
        "z_loss": 1e-4,
        "adam_eps": 1e-8,
        "cite": "wortsman2023small",
    },
    # Chowdhery et al. 2023 (JMLR; arXiv 2022), PaLM §5.1: about 20 loss spikes in the 540B run (none in the smaller
    # models), each mitigated by restarting about 100 steps before the spike and skipping about 200-500 batches
    "palm_spikes": {
        "name": "Chowdhery et al. 2023 (PaLM)",
        "spikes": 20,
        "rollback_steps": 100,
        "skipped_low": 200,
        "skipped_high": 500,
        "cite": "chowdhery2023palm",
    },
    # Muennighoff et al. 2023: D' = U + U R*_D (1 - exp(-R_D / R*_D)), fitted R*_D ≈ 15.4; up to about 4 epochs
    # repeated data are about as good as fresh, and returns fade by about 16 epochs
    "muennighoff": {
        "name": "Muennighoff et al. 2023",
        "r_star_d": 15.4,
        "epochs_free": 4,
        "epochs_fade": 16,
        "cite": "muennighoff2023scaling",
    },
    # OpenAI 2023, GPT-4 technical report §3: the final loss predicted by L(C) = aC^b + c fitted on runs using up
    # to 10,000 times less compute
    "gpt4_loss": {
        "name": "OpenAI 2023 (GPT-4)",
        "form": "L(C) = aC^b + c",
        "compute_ratio": 10_000,
        "cite": "openai2023gpt4",
    },
    # OpenAI 2023, GPT-4 technical report §3.1: HumanEval pass rate predicted from models trained with at most
    # 1,000 times less compute, by fitting -E_P[log(pass_rate(C))] = α C^(-k) on a subset of the problems
    "gpt4_capability": {
        "name": "OpenAI 2023 (GPT-4)",
        "form": "−E[log pass_rate(C)] = α C^(−k)",
        "compute_ratio": 1_000,
        "cite": "openai2023gpt4",
    },
    # Bhagia et al. 2024, OLMo model ladders: (N, D) -> task loss -> accuracy, the ladder costing 1% of the target
    # models' compute; on four multiple-choice tasks the 7B and 13B targets' accuracy within 2 points, on four
    # others an average absolute error of 6.9 points (arXiv v1 abstract)
    "olmo_ladder": {
        "name": "Bhagia et al. 2024 (OLMo ladders)",
        "compute_share": 0.01,
        "error_points_good": 2.0,
        "error_points_noisy": 6.9,
        "cite": "bhagia2024establishing",
    },
    # Du et al. 2024: models of different sizes with the same pretraining loss score alike downstream; an ability
    # stays at chance until the loss falls below a threshold
    "du_loss": {"name": "Du et al. 2024", "cite": "du2024understanding"},
    # Schaeffer et al. 2024: the correlation of a score with compute degrades along log p(correct) -> p(correct) ->
    # p(correct) normalised over the choices -> accuracy, because the last steps depend on the wrong choices too
    "schaeffer_chain": {"name": "Schaeffer et al. 2024", "cite": "schaeffer2024why"},
    # Ye et al. 2024, data mixing laws: L_i(r) = c_i + k_i exp(sum_j t_ij r_j) fitted on small proxies; the mixture
    # it optimised reached the default mixture's performance as if that were trained 48% longer
    "ye_mixing": {
        "name": "Ye et al. 2024",
        "form": "L_i(r) = c_i + k_i exp(Σ_j t_ij r_j)",
        "longer": 0.48,
        "cite": "ye2024data",
    },
    # Xie et al. 2023, DoReMi: a proxy trained with group DRO against a reference reweights the domains; the weights
    # train a larger model. The update's step size is 1 in the reference implementation, its smoothing 1e-3 in the
    # released 120M run script (scripts/runs/run_pile_doremi120M.sh; the argument's default is 1e-4)
    "doremi": {
        "name": "Xie et al. 2023 (DoReMi)",
        "few_shot_points": 6.5,
        "speedup": 2.6,
        "eta": 1.0,
        "smoothing": 1e-3,
        "cite": "xie2023doremi",
    },
    # Liu et al. 2024, RegMix: 512 proxies of 1M parameters on Dirichlet-sampled mixtures and a regression; assumes
    # that the ranking of mixtures holds across model sizes
    "regmix": {"name": "Liu et al. 2024 (RegMix)", "proxies": 512, "proxy_params": 1e6, "cite": "liu2024regmix"},
    # Wei et al. 2022, FLAN: LaMDA-PT 137B instruction-tuned on 62 datasets grouped into 12 clusters, each cluster
    # evaluated zero-shot by a model tuned on the others; it beats zero-shot GPT-3 175B on 20 of 25 datasets; held-out
    # accuracy rises with the number of tuning clusters; tuning hurts held-out tasks in small models and helps in
    # large ones (the sizes where it turns are still to be checked against the paper's figure)
    "flan": {
        "name": "Wei et al. 2022 (FLAN)",
        "params": 137e9,
        "datasets": 62,
        "clusters": 12,
        "beats_gpt3": (20, 25),
        "cite": "wei2022finetuned",
    },  # fmt: skip
    # Zhang, Wang & Charton 2024: string rewrites; at a fixed budget, many distinct instructions with few examples
    # each generalise to unseen instructions, few instructions with many examples do not
    "zhang_instructions": {"name": "Zhang, Wang & Charton 2024", "cite": "zhang2024instruction"},
    # Takase et al. 2023: loss spikes follow a sudden growth of the gradient norm
    "takase": {"name": "Takase et al. 2023", "cite": "takase2023spike"},
}
