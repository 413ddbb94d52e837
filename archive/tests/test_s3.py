"""The archive on an S3-compatible object store (django-storages), against a real S3
server on loopback (moto's server mode): filing, the ZIP and `verify_archive` work the
same, and an object removed from the bucket is named."""

import io
import socket
import zipfile

import boto3
import pytest
from moto.server import ThreadedMotoServer

from archive.selectors import archive_verify
from archive.tests.test_store_and_verify import RECEIPT, _file

pytestmark = pytest.mark.django_db
BUCKET = "bulwark-archive"
KEYS = {"aws_access_key_id": "archive-test", "aws_secret_access_key": "archive-test-secret"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def s3(settings):
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=url, region_name="us-east-1", **KEYS)
    client.create_bucket(Bucket=BUCKET)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET, "endpoint_url": url, "region_name": "us-east-1",
                "access_key": KEYS["aws_access_key_id"],
                "secret_key": KEYS["aws_secret_access_key"],
            },
        },
    }  # fmt: skip
    yield client
    server.stop()


def test_filing_verifying_and_a_removed_object_on_s3(s3, owner_client):
    filed = _file()
    receipt = _file(RECEIPT, data=b"%PDF-1.4 receipt")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert keys == sorted(v.file.storage_name for v in (filed.version, receipt.version))
    stored = s3.get_object(Bucket=BUCKET, Key=filed.version.file.storage_name)["Body"].read()
    assert stored == b"%PDF-1.4 statement"
    assert archive_verify() == []
    response = owner_client.get("/archive/download/?period=2026-11")
    bundle = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert bundle.read(filed.document.path) == b"%PDF-1.4 statement"
    s3.delete_object(Bucket=BUCKET, Key=filed.version.file.storage_name)
    problems = archive_verify()
    assert [p.path for p in problems] == [filed.document.path]
    assert "missing from storage" in problems[0].reason
