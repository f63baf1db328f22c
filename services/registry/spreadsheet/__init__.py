"""Import and export of the registry as Excel (.xlsx) and CSV with Chinese column headers.

An import is all or nothing: every row is checked, a bad file names every bad row and field
(``第12行 电话: 格式不正确 / row 12 phone: invalid``) and writes nothing; a good one saves
every row through the registry's own rules in the caller's transaction. Saving identical data
changes nothing, so importing the same file again changes nothing. A column left out of the
file keeps what the registry has (a roster file without phones does not erase them).

``columns``: each kind's columns and headers; ``files``: .xlsx/.csv bytes to and from rows of
text; ``cells``: a cell's text to and from a record's value; ``importing`` and ``exporting``.
"""

from services.registry.spreadsheet.columns import KINDS
from services.registry.spreadsheet.exporting import export_file, export_rows
from services.registry.spreadsheet.files import read_table
from services.registry.spreadsheet.importing import import_rows

__all__ = ["KINDS", "export_file", "export_rows", "import_rows", "read_table"]
