from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from accounts.lines import StatementLineError
from accounts.statements.forms import StatementUploadForm
from accounts.statements.selectors import statement_imports_recent
from accounts.statements.services import statement_import
from treasury.params import param_int

TEMPLATE = "statements/upload.html"


@require_http_methods(["GET", "POST"])
def statement_upload(request: HttpRequest) -> HttpResponse:
    """Upload a statement file into a cash account and see what it added.

    The owner posts (the read-only rule refuses anyone else centrally); an htmx post gets
    back only the result region, with the list of recent imports swapped out of band.
    """
    context: dict[str, Any] = {"result": None, "error": None}
    if request.method == "POST":
        form = StatementUploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                context["result"] = statement_import(
                    account=form.cleaned_data["account"],
                    data=upload.read(),
                    filename=upload.name or "statement",
                    format=form.cleaned_data["format"] or None,
                )
            except StatementLineError as exc:
                context["error"] = str(exc)
    else:
        form = StatementUploadForm(
            initial={"account": param_int(request.GET, "account", lenient=True)}
        )
    context.update(form=form, recent=statement_imports_recent())
    if request.htmx and request.method == "POST":  # type: ignore[attr-defined]
        return render(request, f"{TEMPLATE}#import-result", {**context, "oob": True})
    return render(request, TEMPLATE, context)
