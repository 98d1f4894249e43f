"""Running callables at the same instant, for race tests on PostgreSQL."""

import threading

from django.db import connection


def race(callables) -> tuple[list, list]:
    """Run every callable at once, one thread and database connection each."""
    barrier = threading.Barrier(len(callables))
    results, errors = [], []
    lock = threading.Lock()

    def run(call):
        try:
            barrier.wait(timeout=10)
            outcome = call()
            with lock:
                results.append(outcome)
        except Exception as exc:  # collected and asserted on by the caller
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in callables]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors
