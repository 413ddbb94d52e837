from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from accounts.lines import StatementLineError
from accounts.models import CashAccount
from accounts.statements.formats import max_bytes
from accounts.statements.forms import (
    AccountMappingForm,
    StatementUploadForm,
    mapping_forms_posted,
)
from accounts.statements.routing import FileAccount, StatementAccountsError
from accounts.statements.selectors import statement_imports_recent
from accounts.statements.services import statement_import
from treasury.params import param_int

TEMPLATE = "statements/upload.html"


@require_http_methods(["GET", "POST"])
def statement_upload(request: HttpRequest) -> HttpResponse:
    """Upload a statement file and see what it added.

    A file naming accounts Bulwark does not know stores nothing and comes back with a
    choice per account (create it, or put it into an existing one); posting the file
    again with the choices imports it. The owner posts (the read-only rule refuses anyone
    else centrally); an htmx post gets back the result region, with the account choices
    (inside the form) and the list of recent imports swapped out of band.
    """
    context: dict[str, Any] = {"result": None, "error": None, "mapping_forms": []}
    if request.method == "POST":
        form = StatementUploadForm(request.POST, request.FILES)
        if form.is_valid():
            context.update(_import(request, form))
    else:
        form = StatementUploadForm(
            initial={"account": param_int(request.GET, "account", lenient=True)}
        )
    context.update(form=form, recent=statement_imports_recent(), reselect=not request.htmx)  # type: ignore[attr-defined]
    if request.htmx and request.method == "POST":  # type: ignore[attr-defined]
        return render(request, f"{TEMPLATE}#import-result", {**context, "oob": True})
    return render(request, TEMPLATE, context)


def _import(request: HttpRequest, form: StatementUploadForm) -> dict[str, Any]:
    accounts = list(CashAccount.objects.filter(is_active=True).select_related("institution"))
    posted = mapping_forms_posted(request.POST, accounts)
    mapping = {f.account_key: f.choice() for f in posted if f.is_valid()}
    invalid = {f.data.get(f.add_prefix("key")): f for f in posted if not f.is_valid()}
    upload = form.cleaned_data["file"]
    try:
        result = statement_import(
            data=upload.read(max_bytes() + 1),  # more is refused (and recorded) unread
            size=upload.size,
            filename=upload.name or "statement",
            # Choices per account replace one account for the file (it holds several).
            account=None if posted else form.cleaned_data["account"],
            mapping=mapping,
            format=form.cleaned_data["format"] or None,
        )
    except StatementAccountsError as exc:
        forms = [
            _mapping_form(index, item, invalid.get(item.key.token), accounts)
            for index, item in enumerate(exc.unknown)
        ]
        return {"error": str(exc), "mapping_forms": forms, "unknown": exc.unknown}
    except StatementLineError as exc:
        return {"error": str(exc)}
    return {"result": result}


def _mapping_form(index: int, item: FileAccount, posted: AccountMappingForm | None,
                  accounts: list[CashAccount]) -> AccountMappingForm:  # fmt: skip
    """A fresh choice for the account, or the owner's refused one again with its errors."""
    prefix = f"map-{index}"
    if posted is None:
        return AccountMappingForm(prefix=prefix, item=item, accounts=accounts)
    data = {f"{prefix}-{name}": posted.data.get(posted.add_prefix(name), "")
            for name in posted.fields}  # fmt: skip
    rebound = AccountMappingForm(data, prefix=prefix, item=item, accounts=accounts)
    rebound.is_valid()
    return rebound
