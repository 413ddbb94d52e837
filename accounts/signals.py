"""Signals of money held."""

from django.dispatch import Signal

# Sent inside the storing transaction after new lines are stored for one account, with
# `account` and `first_seq` (the lines with seq >= first_seq are new). Receivers that do
# slow work (categorizing, posting) enqueue it with `transaction.on_commit`.
lines_stored = Signal()
