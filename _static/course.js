// Loaded in every page's <head> (Jupyter Book 1.x adds every .js file under _static/ to each page).
//
// pydata-sphinx-theme starts from the colour mode stored in localStorage; on a reader's first visit nothing
// is stored, its setMode("") logs console.error("Got invalid theme mode: . Resetting to auto.") and then
// uses "auto". Starting from "auto" gives the same page without the error. This runs before the theme's
// deferred script reads the value.
if (!document.documentElement.dataset.mode) {
  document.documentElement.dataset.mode = "auto";
}
