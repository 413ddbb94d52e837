"""Counts that refresh with the page: a region that polls while a job is queued or
running reloads the page when the job ends, so the counts outside it are not left stale
(the reconciliation page's open total stayed as it was until a reload)."""

import pytest
from django.urls import reverse

from accounts.models import SyncRun

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def test_the_reconciliation_page_polls_a_queued_run_and_reloads_when_it_ends(owner_client):
    run = SyncRun.objects.create(kind=SyncRun.Kind.RECONCILE, status=SyncRun.Status.QUEUED)
    page = owner_client.get(reverse("reconciliation:queue")).content.decode()
    assert 'hx-get="/reconciliation/?polling=1"' in page  # a queued run is watched too
    polled = owner_client.get("/reconciliation/?polling=1", HTTP_HX_TARGET="runs", **HTMX)
    assert polled.content.decode().lstrip().startswith('<section class="card" id="runs"')
    SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.SUCCEEDED)
    ended = owner_client.get("/reconciliation/?polling=1", HTTP_HX_TARGET="runs", **HTMX)
    assert ended["HX-Refresh"] == "true"


def test_a_rules_run_reloads_the_rules_page_when_it_ends(owner_client):
    run = SyncRun.objects.create(kind=SyncRun.Kind.RULES, status=SyncRun.Status.RUNNING)
    url = reverse("rules:run", args=[run.pk])
    assert "HX-Refresh" not in owner_client.get(url, {"polling": "1"}, **HTMX)
    SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.SUCCEEDED)
    assert owner_client.get(url, {"polling": "1"}, **HTMX)["HX-Refresh"] == "true"
