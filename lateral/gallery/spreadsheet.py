"""CSV cells that a spreadsheet shows as text, never runs as a formula (OWASP "CSV injection").

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is a formula to Excel, LibreOffice and Google Sheets, even inside
quotes. Such a cell gets a leading apostrophe, the spreadsheets' own mark
for "text". Fish ids cannot start so (``commands.check_fish_id`` refuses
them), so an R or MARK user sees every id exactly as enrolled; only cells
from elsewhere (an older gallery, a session or file name) can carry the mark.
See docs/reliability.md.
"""

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(cell):
    """``cell`` as a spreadsheet must show it: text starting like a formula gets a leading apostrophe."""
    if isinstance(cell, str) and cell.startswith(FORMULA_LEADS):
        return "'" + cell
    return cell


def safe_row(cells):
    return [neutralised(cell) for cell in cells]
