"""Signals of money held."""

from django.dispatch import Signal

# Sent inside the storing transaction after new lines are stored for one account, with
# `account` and `first_seq` (the lines with seq >= first_seq are new). Receivers that do
# slow work (categorizing, posting) enqueue it with `transaction.on_commit`.
lines_stored = Signal()

# Sent after a statement file was imported and committed (`statement_import`), with
# `result` (its StatementImportResult), `data` (the file's bytes) and `filename`, so the
# archive can file it without this app knowing of the archive.
statement_imported = Signal()
