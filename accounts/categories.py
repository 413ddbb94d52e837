"""How the transactions page names a line's category.

The category lives with the books (`ledger.rules.Categorization`, reached as the line's
`categorization`); the names of account codes come from the books' chart. The books app
registers `category_names_register(fn)` with `fn(codes) -> {code: name}`, so this app
never imports it (apps import downwards only). Without one, codes show bare.
"""

from collections.abc import Callable, Iterable

_names: Callable[[set[str]], dict[str, str]] | None = None


def category_names_register(fn: Callable[[set[str]], dict[str, str]]) -> None:
    global _names
    _names = fn


def category_names(codes: Iterable[str]) -> dict[str, str]:
    wanted = {code for code in codes if code}
    return _names(wanted) if _names is not None and wanted else {}
