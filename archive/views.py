"""The archive's pages: the completeness matrix (`archive:matrix`), a period's ZIP
(`archive:download`), the upload page with its inbox, the filing rules with their
preview, and retention. The accountant sees and downloads everything; every write is the
owner's (enforced centrally, `treasury.access`)."""

from __future__ import annotations

from django.contrib import messages
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from archive import selectors, services
from archive.bundle import PeriodError, period_parse, period_zip
from archive.forms import FilingRuleForm, InboxFileForm, RetentionForm, UploadForm
from archive.layout import LayoutError, Naming, path_for
from archive.models import Document, FilingRule
from archive.months import month_previous, month_start
from archive.rules import RuleInput, rule_verdict
from treasury.params import BadParameter, param_int

MATRIX_MONTHS = 12
INLINE_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg"})


@require_GET
def matrix(request: HttpRequest) -> HttpResponse:
    count = param_int(request.GET, "months", default=MATRIX_MONTHS, maximum=120) or MATRIX_MONTHS
    last = month_previous(month_start(timezone.now().date()))
    first = last
    for _ in range(count - 1):
        first = month_previous(first)
    found = selectors.completeness_matrix(first_month=first, last_month=last)
    return render(
        request,
        "archive/matrix.html",
        {"matrix": found, "months": count, "last_month": last, "periods": _periods(found)},
    )


def _periods(found: selectors.Matrix) -> list[str]:
    """The periods offered for download, newest first: each year, then each month."""
    years = sorted({f"{m:%Y}" for m in found.months}, reverse=True)
    return years + [f"{m:%Y-%m}" for m in reversed(found.months)]


@require_GET
def download(request: HttpRequest) -> HttpResponse:
    try:
        period = period_parse(request.GET.get("period", ""))
    except PeriodError as exc:
        raise BadParameter("period", str(exc)) from exc
    archive, _count = period_zip(period)
    return FileResponse(
        archive,
        as_attachment=True,
        filename=f"bulwark-archive-{period.label}.zip",
        content_type="application/zip",
    )


# --- dropped documents, rules, the inbox, retention ----------------------------------------


def _inbox() -> list[Document]:
    return list(Document.objects.filter(status=Document.Status.INBOX).order_by("-created_at"))


@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        dropped = services.document_drop(
            data=upload.read(), name=upload.name or "document",
            content_type=upload.content_type or "application/octet-stream",
            sender=form.cleaned_data["sender"],
        )  # fmt: skip
        if dropped.filed:
            messages.success(request, f"{dropped.reason}: {dropped.document.path}")
        else:
            messages.warning(request, f"{dropped.reason}: it waits in the inbox.")
        return redirect("archive:upload")
    inbox = [(d, InboxFileForm(prefix=f"doc{d.pk}")) for d in _inbox()]
    rules = FilingRule.objects.filter(is_active=True)
    return render(request, "archive/upload.html", {"form": form, "rules": rules, "inbox": inbox})


@require_POST
def inbox_file(request: HttpRequest, document_id: int) -> HttpResponse:
    document = get_object_or_404(Document, pk=document_id, status=Document.Status.INBOX)
    form = InboxFileForm(request.POST, prefix=f"doc{document.pk}")
    if not form.is_valid():
        errors = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
        messages.error(request, f"Not filed: {errors}")
        return redirect("archive:upload")
    data = form.cleaned_data
    naming = Naming(
        function=data["function"], subject=data["subject"], kind=data["kind"],
        label=data["label"], about_on=data["about_on"], extension=document.extension,
    )  # fmt: skip
    try:
        filed = services.inbox_file(document=document, naming=naming)
    except LayoutError as exc:
        messages.error(request, f"Not filed: {exc}")
    else:
        messages.success(request, f"Filed: {filed.path}")
    return redirect("archive:upload")


@require_http_methods(["GET", "POST"])
def rules(request: HttpRequest) -> HttpResponse:
    form = FilingRuleForm(request.POST or None)
    preview: list[tuple[Document, str]] | None = None
    if request.method == "POST" and form.is_valid():
        rule = form.save(commit=False)
        if "preview" in request.POST:
            preview = rule_preview(rule)
        else:
            rule.save()
            filed = services.inbox_apply_rules()
            messages.success(request, f"Rule {rule.name!r} saved; {filed} filed from the inbox.")
            return redirect("archive:rules")
    return render(
        request,
        "archive/rules.html",
        {"form": form, "rules": FilingRule.objects.all(), "preview": preview,
         "template": services.template_current()},
    )  # fmt: skip


@require_POST
def layout(request: HttpRequest) -> HttpResponse:
    """The owner's new layout template: every document moves with it, or none does."""
    template = request.POST.get("template", "").strip()[:300]
    try:
        moved = services.layout_change(template=template)
    except LayoutError as exc:
        messages.error(request, f"Layout not changed: {exc}")
    else:
        plural = "" if moved == 1 else "s"
        messages.success(request, f"Layout changed: {moved} document{plural} moved, history kept.")
    return redirect("archive:rules")


def rule_preview(rule: FilingRule) -> list[tuple[Document, str]]:
    """What the rule would file from the inbox, and where (nothing is saved)."""
    found = []
    for document in _inbox():
        verdict = rule_verdict(
            rule, RuleInput(document.original_name, document.text, document.sender)
        )
        if verdict is None:
            continue
        if verdict.about_on is None:
            found.append((document, "matches, but no date found: stays in the inbox"))
        else:
            found.append((document, path_for(verdict.naming(document.extension))))
    return found


@require_http_methods(["GET", "POST"])
def retention(request: HttpRequest) -> HttpResponse:
    form = RetentionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.retention_set(
                scope=form.cleaned_data["scope"], years=form.cleaned_data["years"]
            )
        except ValueError as exc:
            form.add_error("scope", str(exc))
        else:
            messages.success(request, "Retention saved.")
            return redirect("archive:retention")
    today = timezone.now().date()
    return render(
        request,
        "archive/retention.html",
        {
            "form": form,
            "policies": sorted(selectors.retention_policies().items()),
            "discardable": selectors.discardable(today=today),
        },
    )


@require_GET
def document(request: HttpRequest, document_id: int) -> HttpResponse:
    """A filed document's current version (or `?version=N`), as stored."""
    found = get_object_or_404(Document, pk=document_id)
    number = param_int(request.GET, "version", maximum=10_000)
    versions = found.versions.select_related("file").order_by("-number")
    version = get_object_or_404(versions, number=number) if number else versions.first()
    if version is None:
        raise Http404("No version of this document")
    content_type = version.file.content_type or "application/octet-stream"
    handle = default_storage.open(version.file.storage_name, "rb")
    return FileResponse(
        handle,
        # Shown in the browser only if it cannot carry script (an uploaded HTML file is
        # a download, never a page of this site).
        as_attachment=content_type not in INLINE_TYPES,
        filename=found.name,
        content_type=content_type if content_type in INLINE_TYPES else "application/octet-stream",
    )
