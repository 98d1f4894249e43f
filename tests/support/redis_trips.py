"""Count Redis round trips in a test: each trip as the names of its commands."""

from redis.client import Pipeline, Redis


def record_redis_trips(monkeypatch) -> list[list[str]]:
    """From now on, each Redis round trip made through redis-py's blocking client, as its
    commands' names (a pipeline is one trip)."""
    trips: list[list[str]] = []
    real_execute, real_command = Pipeline.execute, Redis.execute_command

    def pipeline_execute(self, *args, **kwargs):
        trips.append([command[0][0] for command in self.command_stack])
        return real_execute(self, *args, **kwargs)

    def execute_command(self, *args, **kwargs):
        trips.append([args[0]])
        return real_command(self, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "execute", pipeline_execute)
    monkeypatch.setattr(Redis, "execute_command", execute_command)
    return trips
