"""The S3 storage path against a real S3 API server on loopback (moto's standalone server)."""

import io
import shutil
import socket
import subprocess
import time
import urllib.request
import uuid

import boto3
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tests.community import media_samples
from tests.support.parallel import free_port

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("eager_tasks")]

ACCESS_KEY = "moim-test-access"
SECRET_KEY = "moim-test-secret"
REGION = "us-east-1"


@pytest.fixture(scope="module")
def s3_endpoint():
    executable = shutil.which("moto_server")
    if executable is None:
        pytest.skip("moto_server is not installed (requirements-dev.txt: moto[server])")
    port = free_port()
    process = subprocess.Popen(
        [executable, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("moto_server did not start")
                time.sleep(0.2)
        yield endpoint
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def s3_bucket(s3_endpoint, settings):
    bucket = f"moim-media-{uuid.uuid4().hex[:8]}"
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
    )
    client.create_bucket(Bucket=bucket)
    settings.STORAGES = {
        **settings.STORAGES,
        "media": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": s3_endpoint,
                "access_key": ACCESS_KEY,
                "secret_key": SECRET_KEY,
                "region_name": REGION,
                "location": "media",
                "default_acl": None,
                "querystring_auth": True,
                "file_overwrite": False,
            },
        },
    }
    return client, bucket


def test_upload_is_processed_and_served_through_s3(
    s3_bucket, auth_client, django_capture_on_commit_callbacks
):
    client, bucket = s3_bucket
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_client.post(
            "/api/v1/uploads/",
            {"file": SimpleUploadedFile("gps.jpg", media_samples.jpeg_with_gps())},
            format="multipart",
        )
    assert response.status_code == 201
    body = auth_client.get(f"/api/v1/uploads/{response.json()['id']}/").json()
    assert body["state"] == "ready", body["failure_reason"]

    keys = [item["Key"] for item in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert len(keys) == 4  # full rendition + 3 thumbnails; the raw upload was deleted
    assert all(key.startswith("media/assets/") and key.endswith(".webp") for key in keys)
    for key in keys:
        stored = client.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert not Image.open(io.BytesIO(stored)).getexif()

    # The media view answers with a signed, expiring URL on the S3 server.
    redirect = auth_client.get(body["thumbnails"]["320"]["url"])
    assert redirect.status_code == 302
    signed = redirect["Location"]
    assert signed.startswith(s3_bucket_endpoint(client)) and "Signature" in signed
    with urllib.request.urlopen(signed, timeout=10) as fetched:
        thumbnail = Image.open(io.BytesIO(fetched.read()))
    assert thumbnail.format == "WEBP" and thumbnail.size == (320, 240)

    unsigned = signed.split("?")[0]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(unsigned, timeout=10)
    assert refused.value.code == 403


def s3_bucket_endpoint(client) -> str:
    return client.meta.endpoint_url
