// Deliberately (almost) empty. This file shadows pydata-sphinx-theme's _static/scripts/fontawesome.js, the
// 1.5 MB Font Awesome "SVG + JS" bundle that every page loads (Sphinx copies the book's _static/ over the
// theme's). The theme's stylesheet already ships the Font Awesome web fonts and classes, which draw the
// same header and sidebar icons, so dropping the bundle changes no icon and saves 1.5 MB (0.54 MB gzipped)
// on every page. tests/test_browser.py checks each page's weight.
