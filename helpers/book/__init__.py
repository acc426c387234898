"""What the book shows, beside the science: figure style (``plots``), interactive views and their static
twins (``widgets``), Markdown tables (``report``), exercise checkers (``exercises``) and the published
numbers every chapter compares against (``papers``)."""
