"""The mismatch queue: the admin site is where the owner works through what does not agree.

Filters by status (open by default), type, account and age; each mismatch shows the Wise
line and the Xero entry side by side with its history; actions post the missing entry to
Xero, link by hand, ignore with a reason, or reopen. Every write goes through
`services` (which records who did what) and asks `has_change_permission` first, so the
accountant, who holds view permission only, sees it all and can change nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from accounts.admin import ReadOnlyRecordAdmin, money_column
from accounts.models import BalanceSnapshot, Transaction
from ledger.models import LedgerEntry
from ledger.reconciliation import services
from ledger.reconciliation.forms import AcceptForm, IgnoreForm, LinkForm
from ledger.reconciliation.models import BalanceCheck, Match, Mismatch
from treasury.money import from_minor, money_format


class StatusFilter(admin.SimpleListFilter):
    """Open by default: the queue is what still needs the owner."""

    title = "status"
    parameter_name = "status"
    ALL = "all"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [*Mismatch.Status.choices, (self.ALL, "All")]

    def choices(self, changelist: Any) -> Any:
        current = self.value() or Mismatch.Status.OPEN
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Mismatch]) -> QuerySet[Mismatch]:
        value = self.value() or Mismatch.Status.OPEN
        return queryset if value == self.ALL else queryset.filter(status=value)


class AgeFilter(admin.SimpleListFilter):
    """How long ago the difference was first found."""

    title = "age"
    parameter_name = "age"
    BUCKETS = {
        "day": ("Under a day", 0, 1),
        "week": ("1 to 7 days", 1, 7),
        "month": ("7 to 30 days", 7, 30),
        "older": ("Over 30 days", 30, None),
    }

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(key, bucket[0]) for key, bucket in self.BUCKETS.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Mismatch]) -> QuerySet[Mismatch]:
        bucket = self.BUCKETS.get(self.value() or "")
        if bucket is None:
            return queryset
        now = timezone.now()
        _, newest, oldest = bucket
        queryset = queryset.filter(opened_at__lte=now - timedelta(days=newest))
        if oldest is not None:
            queryset = queryset.filter(opened_at__gt=now - timedelta(days=oldest))
        return queryset


def _money(amount_minor: int | None, currency: str) -> str:
    if amount_minor is None or not currency:
        return "—"
    return money_format(from_minor(amount_minor, currency), currency)


@admin.register(Mismatch)
class MismatchAdmin(admin.ModelAdmin):
    list_display = ("type", "summary", "account", "day", "shown_amount", "shown_status", "age")
    list_display_links = ("summary",)
    list_filter = (StatusFilter, "type", ("account", admin.RelatedOnlyFieldListFilter), AgeFilter)
    list_select_related = ("account",)
    search_fields = ("summary", "natural_key")
    ordering = ("-opened_at", "-id")
    actions = (
        "post_to_xero", "correct_in_xero", "accept_with_reason", "link_by_hand",
        "ignore_with_reason", "reopen",
    )  # fmt: skip
    change_form_template = "admin/reconciliation/mismatch/change_form.html"
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # Nothing is edited by hand: a mismatch changes only through the actions, which
        # record who did what.
        return [field.name for field in Mismatch._meta.fields]

    @admin.display(description="Amount", ordering="amount_minor")
    def shown_amount(self, obj: Mismatch) -> str:
        return _money(obj.amount_minor, obj.currency)

    @admin.display(description="Status", ordering="status")
    def shown_status(self, obj: Mismatch) -> str:
        return obj.status_label

    @admin.display(description="Age", ordering="opened_at")
    def age(self, obj: Mismatch) -> str:
        days = (timezone.now() - obj.opened_at).days
        return "today" if days == 0 else f"{days} day{'s' if days != 1 else ''}"

    # --- URLs of the per-mismatch actions -------------------------------------------------

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/ignore/",
                wrap(self.ignore_view),
                name="reconciliation_mismatch_ignore",
            ),
            path(
                "<path:object_id>/link/", wrap(self.link_view), name="reconciliation_mismatch_link"
            ),
            path(
                "<path:object_id>/reopen/",
                wrap(self.reopen_view),
                name="reconciliation_mismatch_reopen",
            ),
            path(
                "<path:object_id>/post/", wrap(self.post_view), name="reconciliation_mismatch_post"
            ),
            path(
                "<path:object_id>/correct/",
                wrap(self.correct_view),
                name="reconciliation_mismatch_correct",
            ),
            path(
                "<path:object_id>/accept/",
                wrap(self.accept_view),
                name="reconciliation_mismatch_accept",
            ),
            *super().get_urls(),
        ]

    def _writable(self, request: HttpRequest, object_id: str) -> Mismatch | None:
        """The mismatch, once the user may change it (PermissionDenied otherwise)."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        obj = self.get_object(request, object_id)
        if obj is not None and not self.has_change_permission(request, obj):
            raise PermissionDenied
        return obj

    def _change_url(self, obj: Mismatch) -> str:
        return reverse("admin:reconciliation_mismatch_change", args=[obj.pk])

    def _missing(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)

    def ignore_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self._writable(request, object_id)
        if obj is None:
            return self._missing(request, object_id)
        form = IgnoreForm(request.POST if request.method == "POST" else None)
        applied = request.method == "POST" and form.is_valid()
        if applied and self._ignore(request, [obj], form.cleaned_data["reason"]):
            return HttpResponseRedirect(self._change_url(obj))
        return self._ignore_page(request, [obj], form)

    def _ignore(self, request: HttpRequest, mismatches: list[Mismatch], reason: str) -> int:
        done = 0
        for mismatch in mismatches:
            try:
                services.mismatch_ignore(mismatch=mismatch, user=request.user, reason=reason)
            except services.ActionRefused as exc:
                self.message_user(request, f"{mismatch}: {exc}", messages.ERROR)
                continue
            self.log_change(request, mismatch, f"Ignored: {reason}")
            done += 1
        if done:
            self.message_user(request, f"Ignored {done} mismatch(es).", messages.SUCCESS)
        return done

    def _ignore_page(
        self,
        request: HttpRequest,
        mismatches: list[Mismatch],
        form: IgnoreForm,
        *,
        bulk: bool = False,
        accept: bool = False,
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Accept with a reason" if accept else "Ignore with a reason",
            "mismatches": mismatches,
            "form": form,
            "bulk": bulk,
            "accept": accept,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/reconciliation/mismatch/ignore.html", context)

    def accept_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self._writable(request, object_id)
        if obj is None:
            return self._missing(request, object_id)
        form = AcceptForm(request.POST if request.method == "POST" else None)
        applied = request.method == "POST" and form.is_valid()
        if applied and self._accept(request, [obj], form.cleaned_data):
            return HttpResponseRedirect(self._change_url(obj))
        return self._ignore_page(request, [obj], form, accept=True)

    def _accept(self, request: HttpRequest, mismatches: list[Mismatch], data: dict) -> int:
        done = 0
        for mismatch in mismatches:
            try:
                services.mismatch_accept(
                    mismatch=mismatch, user=request.user, reason=data["reason"],
                    right_side=data["right_side"],
                )  # fmt: skip
            except services.ActionRefused as exc:
                self.message_user(request, f"{mismatch}: {exc}", messages.ERROR)
                continue
            self.log_change(
                request, mismatch, f"Accepted ({mismatch.status_label}): {data['reason']}"
            )
            done += 1
        if done:
            self.message_user(request, f"Accepted {done} mismatch(es).", messages.SUCCESS)
        return done

    def correct_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self._writable(request, object_id)
        if obj is None:
            return self._missing(request, object_id)
        if request.method == "POST":
            self._correct(request, [obj])
        return HttpResponseRedirect(self._change_url(obj))

    def _correct(self, request: HttpRequest, mismatches: list[Mismatch]) -> None:
        try:
            outcome = services.mismatches_correct(mismatches=mismatches, user=request.user)
        except services.ActionRefused as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        for mismatch in mismatches:
            self.log_change(request, mismatch, "Updated the Xero entry from the Wise line")
        if outcome.posted:
            self.message_user(
                request,
                f"Updated {outcome.posted} Xero entr{'y' if outcome.posted == 1 else 'ies'} "
                "from the Wise line and read the books back.",
                messages.SUCCESS,
            )
        for failure in outcome.failed:
            self.message_user(request, f"Not updated: {failure}", messages.ERROR)

    def reopen_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self._writable(request, object_id)
        if obj is None:
            return self._missing(request, object_id)
        if request.method == "POST":
            self._reopen(request, [obj])
        return HttpResponseRedirect(self._change_url(obj))

    def _reopen(self, request: HttpRequest, mismatches: list[Mismatch]) -> None:
        done = 0
        for mismatch in mismatches:
            try:
                services.mismatch_reopen(mismatch=mismatch, user=request.user)
            except services.ActionRefused as exc:
                self.message_user(request, f"{mismatch}: {exc}", messages.ERROR)
                continue
            self.log_change(request, mismatch, "Reopened")
            done += 1
        if done:
            self.message_user(request, f"Reopened {done} mismatch(es).", messages.SUCCESS)

    def post_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self._writable(request, object_id)
        if obj is None:
            return self._missing(request, object_id)
        if request.method == "POST":
            self._post(request, [obj])
        return HttpResponseRedirect(self._change_url(obj))

    def _post(self, request: HttpRequest, mismatches: list[Mismatch]) -> None:
        try:
            outcome = services.mismatches_post(mismatches=mismatches, user=request.user)
        except services.ActionRefused as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        for mismatch in mismatches:
            self.log_change(request, mismatch, "Posted to Xero")
        if outcome.posted:
            self.message_user(
                request,
                f"Posted {outcome.posted} line(s) to Xero and read them back.",
                messages.SUCCESS,
            )
        for failure in outcome.failed:
            self.message_user(request, f"Not posted: {failure}", messages.ERROR)

    def link_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self._writable(request, object_id)
        if obj is None:
            return self._missing(request, object_id)
        if obj.type not in services.LINKABLE or obj.status != Mismatch.Status.OPEN:
            self.message_user(
                request,
                "Only an open missing or duplicate line or entry can be linked by hand.",
                messages.ERROR,
            )
            return HttpResponseRedirect(self._change_url(obj))
        lines, entries = services.link_candidates(obj)
        lines = [
            t
            for t in lines
            if t.pk != obj.transaction_id or obj.type != Mismatch.Type.MISSING_IN_XERO
        ]
        entries = [
            e for e in entries if e.pk != obj.entry_id or obj.type == Mismatch.Type.MISSING_IN_XERO
        ]
        form = LinkForm(
            request.POST if request.method == "POST" else None, lines=lines, entries=entries
        )
        if request.method == "POST" and form.is_valid():
            try:
                match = services.mismatch_link(
                    mismatch=obj,
                    user=request.user,
                    line_ids=form.cleaned_data["lines"],
                    entry_ids=form.cleaned_data["entries"],
                )
            except services.ActionRefused as exc:
                form.add_error(None, str(exc))
            else:
                self.log_change(request, obj, f"Linked by hand: {match.signature}")
                self.message_user(request, f"Linked: {match.signature}.", messages.SUCCESS)
                return HttpResponseRedirect(self._change_url(obj))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Link by hand",
            "original": obj,
            "form": form,
            **self._sides(obj),
        }
        return TemplateResponse(request, "admin/reconciliation/mismatch/link.html", context)

    # --- bulk actions on the changelist ---------------------------------------------------

    @admin.action(description="Post the missing entry to Xero", permissions=["change"])
    def post_to_xero(self, request: HttpRequest, queryset: QuerySet[Mismatch]) -> None:
        self._post(request, list(queryset.select_related("organisation")))

    @admin.action(description="Update the Xero entry from the Wise line", permissions=["change"])
    def correct_in_xero(self, request: HttpRequest, queryset: QuerySet[Mismatch]) -> None:
        self._correct(request, list(queryset.select_related("organisation")))

    @admin.action(
        description="Accept with a reason (say which side is right)", permissions=["change"]
    )
    def accept_with_reason(
        self, request: HttpRequest, queryset: QuerySet[Mismatch]
    ) -> HttpResponse | None:
        mismatches = list(queryset)
        form = AcceptForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            self._accept(request, mismatches, form.cleaned_data)
            return None
        return self._ignore_page(request, mismatches, form, bulk=True, accept=True)

    @admin.action(description="Link by hand (one mismatch)", permissions=["change"])
    def link_by_hand(
        self, request: HttpRequest, queryset: QuerySet[Mismatch]
    ) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(
                request, "Choose exactly one mismatch to link by hand.", messages.ERROR
            )
            return None
        return HttpResponseRedirect(
            reverse("admin:reconciliation_mismatch_link", args=[queryset.get().pk])
        )

    @admin.action(description="Ignore with a reason", permissions=["change"])
    def ignore_with_reason(
        self, request: HttpRequest, queryset: QuerySet[Mismatch]
    ) -> HttpResponse | None:
        mismatches = list(queryset)
        form = IgnoreForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            self._ignore(request, mismatches, form.cleaned_data["reason"])
            return None
        return self._ignore_page(request, mismatches, form, bulk=True)

    @admin.action(description="Reopen", permissions=["change"])
    def reopen(self, request: HttpRequest, queryset: QuerySet[Mismatch]) -> None:
        self._reopen(request, list(queryset))

    # --- the side-by-side page ----------------------------------------------------------------

    def _sides(self, obj: Mismatch) -> dict[str, Any]:
        detail = obj.detail or {}
        line_ids = set(detail.get("lines") or []) | (
            {obj.transaction_id} if obj.transaction_id else set()
        )
        entry_ids = set(detail.get("entries") or []) | ({obj.entry_id} if obj.entry_id else set())
        checks = list(
            BalanceCheck.objects.filter(mismatch=obj)
            .select_related("account")
            .order_by("-day")[:31]
        )
        snapshot = (
            BalanceSnapshot.objects.filter(account_id=obj.account_id).order_by("-taken_at").first()
            if obj.type == Mismatch.Type.BALANCE_DIFFERS and obj.account_id
            else None
        )
        return {
            "wise_lines": list(
                Transaction.objects.filter(pk__in=line_ids)
                .select_related("account")
                .order_by("booked_on", "id")
            ),
            "xero_entries": list(
                LedgerEntry.objects.filter(pk__in=entry_ids).order_by("date", "id")
            ),
            "checks": checks,
            "snapshot": snapshot,
        }

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)
        context = dict(extra_context or {})
        if obj is not None:
            can_act = self.has_change_permission(request, obj)
            context.update(
                self._sides(obj),
                events=list(obj.events.select_related("actor")),
                match=obj.match,
                can_act=can_act,
                can_post=can_act
                and obj.type == Mismatch.Type.MISSING_IN_XERO
                and obj.status == Mismatch.Status.OPEN,
                can_correct=can_act and obj.is_correctable and obj.status == Mismatch.Status.OPEN,
                can_accept=can_act and obj.is_correctable and obj.status == Mismatch.Status.OPEN,
                can_link=can_act
                and obj.type in services.LINKABLE
                and obj.status == Mismatch.Status.OPEN,
                can_ignore=can_act and obj.status == Mismatch.Status.OPEN,
                can_reopen=can_act
                and obj.status != Mismatch.Status.OPEN
                and obj.resolution != Mismatch.Resolution.RECONCILED,
                show_save=False,
                show_save_and_continue=False,
                show_save_and_add_another=False,
                show_delete=False,
            )
        return super().change_view(request, object_id, form_url, context)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method == "POST" and object_id is not None:
            # Nothing is saved from this page; the actions have their own URLs.
            if not self.has_change_permission(request):
                raise PermissionDenied
            return HttpResponseRedirect(request.path)
        return super().changeform_view(request, object_id, form_url, extra_context)


@admin.register(Match)
class MatchAdmin(admin.ModelAdmin):
    list_display = ("day", "method", "score", "account", "signature", "created_by", "undone_at")
    list_filter = (
        "method",
        ("undone_at", admin.EmptyFieldListFilter),
        ("account", admin.RelatedOnlyFieldListFilter),
    )
    list_select_related = ("account", "created_by")
    search_fields = ("signature",)
    actions = ("undo",)
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*(f.name for f in Match._meta.fields if f.name != "factors"), "explained"]

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["factors"]

    @admin.display(description="Why (score factors)")
    def explained(self, obj: Match) -> str:
        rows = [
            (
                name,
                factor.get("points", ""),
                ", ".join(f"{k} {v}" for k, v in factor.items() if k != "points"),
            )
            for name, factor in (obj.factors or {}).items()
        ]
        return format_html(
            "<table>{}</table>",
            format_html_join("", "<tr><th>{}</th><td>{}</td><td>{}</td></tr>", rows),
        )

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        if request.method == "POST" and object_id is not None:
            if not self.has_change_permission(request):
                raise PermissionDenied
            return HttpResponseRedirect(request.path)
        context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_delete": False,
        }
        return super().changeform_view(request, object_id, form_url, context)

    @admin.action(
        description="Undo the selected matches (their lines are examined again)",
        permissions=["change"],
    )
    def undo(self, request: HttpRequest, queryset: QuerySet[Match]) -> None:
        done = 0
        for match in queryset:
            try:
                services.match_undo(match=match, user=request.user)
            except services.ActionRefused as exc:
                self.message_user(request, f"{match}: {exc}", messages.ERROR)
                continue
            self.log_change(request, match, "Undone")
            done += 1
        if done:
            self.message_user(
                request,
                f"Undid {done} match(es); their lines were examined again.",
                messages.SUCCESS,
            )


@admin.register(BalanceCheck)
class BalanceCheckAdmin(ReadOnlyRecordAdmin):
    list_display = ("day", "account", "xero", "wise", "books_read_at", "mismatch")
    xero = money_column("books_minor", "Xero")
    wise = money_column("wise_minor", "Wise")
    list_filter = (("account", admin.RelatedOnlyFieldListFilter),)
    list_select_related = ("account", "mismatch")


def mismatch_admin_url(**filters: str) -> str:
    """The queue's changelist, filtered (for links from the summary page)."""
    from urllib.parse import urlencode

    base = reverse("admin:reconciliation_mismatch_changelist")
    return f"{base}?{urlencode(filters)}" if filters else base
