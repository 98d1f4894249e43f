"""A password hasher for the room-password tests: MD5 (fast) that counts its checks and
can hold a check open, so a test sees whether the room's lock is held meanwhile."""

import threading

from django.contrib.auth.hashers import MD5PasswordHasher


class ObservedHasher(MD5PasswordHasher):
    checks = 0
    # When set, a check waits (in ``verify``) until the test opens the gate.
    gate: threading.Event | None = None
    entered = threading.Event()

    @classmethod
    def reset(cls) -> None:
        cls.checks = 0
        cls.gate = None
        cls.entered = threading.Event()

    def verify(self, password, encoded):
        type(self).checks += 1
        if self.gate is not None:
            self.entered.set()
            self.gate.wait(30)
        return super().verify(password, encoded)


PATH = f"{__name__}.ObservedHasher"
