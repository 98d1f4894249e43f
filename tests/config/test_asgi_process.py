"""The ASGI application as uvicorn imports it, in a fresh process."""

from tests.config.django_process import run_django

PROBE = """
import gc
before = gc.get_freeze_count()
import config.asgi
print(before, gc.get_freeze_count(), len(gc.get_objects(generation=2)))
"""


def test_start_up_objects_are_kept_out_of_the_collectors_full_passes():
    """What importing the application made is frozen (``gc.freeze``): a full collection
    no longer walks the process's modules, URL patterns and compiled queries."""
    result = run_django(PROBE, DEBUG="1")
    assert result.returncode == 0, result.stderr
    before, frozen, oldest = map(int, result.stdout.split())
    assert before == 0
    assert frozen > 50_000  # Django, DRF, Channels and Moim's own modules
    assert oldest < 1_000  # left for a full collection to walk (~140,000 without)
