from django.core.management.base import BaseCommand

from community.reactions.models import ReactionTarget
from community.reactions.services import recount_reaction_counters


class Command(BaseCommand):
    help = (
        "Rebuild the per-emoji reaction counters from the reaction rows, e.g. after rows "
        "were deleted outside the reaction services. Safe to run while people react."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--target",
            choices=ReactionTarget.values,
            action="append",
            help="Only this kind of target (repeatable); all kinds by default.",
        )

    def handle(self, *args, **options):
        for kind in options["target"] or ReactionTarget.values:
            changed = recount_reaction_counters(target_type=kind)
            self.stdout.write(f"{kind}: {changed} counter(s) corrected")
