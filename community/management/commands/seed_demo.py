"""Load demo interests, people, rooms and messages. Safe to run any number of times."""

import itertools
import random
from datetime import timedelta

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from community import demo_data
from community.chat.services import send_message
from community.meetups.services import create_meetup, rsvp
from community.polls.services import create_poll, vote
from community.reactions.emoji import QUICK_REACTIONS
from community.reactions.services import check_add_reaction
from community.rooms.models import Interest, Membership, Room
from community.rooms.services import create_room, join_room
from profiles.models import Profile, User
from profiles.services import handle_key

DEMO_PASSWORD = "moim-demo-password"
DEMO_PREFIX = "demo_"


class Command(BaseCommand):
    help = "Seed demo data (idempotent). Demo users log in with password 'moim-demo-password'."

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when any room exists already."
        )

    def handle(self, *args, if_empty: bool = False, **options):
        if if_empty and Room.objects.exists():
            self.stdout.write("Rooms exist already; demo data not loaded.")
            return
        rng = random.Random(2026)  # the same demo every time
        with transaction.atomic():
            interests = self._interests()
            users = self._users()
        created_rooms = 0
        for index, (title, description, language, slugs, hashtags) in enumerate(demo_data.ROOMS):
            owner = users[index % len(users)]
            room = Room.objects.filter(title=title, owner=owner).first()
            if room is None:
                room = create_room(
                    owner=owner,
                    title=title,
                    nickname=owner.profile.display_name,
                    description=description,
                    language=language,
                    interests=[interests[slug] for slug in slugs],
                    hashtags=hashtags,
                    is_web_public=index % 3 == 0,
                )
                created_rooms += 1
            if not room.messages.exists():
                self._chatter(room, users, language, rng)
                if index < 3:
                    self._poll_and_meetup(room, owner, language)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {len(interests)} interests, {len(users)} users, "
                f"{created_rooms} new rooms."
            )
        )

    def _interests(self) -> dict[str, Interest]:
        interests = {}
        for slug, en, ko, ja, parent in demo_data.INTERESTS:
            interest, _ = Interest.objects.update_or_create(
                slug=slug,
                defaults={
                    "name_en": en,
                    "name_ko": ko,
                    "name_ja": ja,
                    "parent": interests.get(parent),
                },
            )
            interests[slug] = interest
        return interests

    def _users(self) -> list[User]:
        password = make_password(DEMO_PASSWORD)  # hashed once: Argon2 is slow on purpose
        users = []
        timezones = ["Asia/Seoul", "Asia/Tokyo", "Europe/Berlin", "America/New_York", "UTC"]
        locales = ["ko", "ja", "en", "en", "en"]
        for index, name in enumerate(demo_data.FIRST_NAMES):
            username = f"{DEMO_PREFIX}{name.lower()}"
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "password": password,
                    "timezone": timezones[index % 5],
                    "locale": locales[index % 5],
                },
            )
            if created or not Profile.objects.filter(user=user).exists():
                handle = name.lower() if index % 2 else f"{name.lower()}_{index}"
                Profile.objects.create(
                    user=user,
                    handle=handle,
                    handle_key=handle_key(handle=handle),
                    display_name=name,
                    bio=f"Hi, I am {name}.",
                    languages=[locales[index % 5]],
                )
            users.append(user)
        return users

    def _chatter(self, room: Room, users: list[User], language: str, rng: random.Random) -> None:
        people = rng.sample(users, k=min(len(users), rng.randint(6, 14)))
        memberships = []
        for person in people:
            existing = Membership.objects.filter(
                room=room, user=person, state=Membership.State.ACTIVE
            ).first()
            nickname = f"{person.profile.display_name}{rng.choice(['', '🌱', '_', '★'])}"
            memberships.append(
                existing or join_room(room_id=room.pk, user=person, nickname=nickname)
            )
        lines = demo_data.MESSAGES.get(language, demo_data.MESSAGES["en"])
        count = rng.randint(10, 22)
        messages = [
            send_message(
                membership=rng.choice(memberships), body=line, client_id=f"seed-{room.pk}-{number}"
            )
            for number, line in zip(range(count), itertools.cycle(lines), strict=False)
        ]
        self._react(room, people, messages, rng)

    def _poll_and_meetup(self, room: Room, owner: User, language: str) -> None:
        """A poll a few members voted in, and a meetup next week a few will go to."""
        question, options = demo_data.POLLS.get(language, demo_data.POLLS["en"])
        poll = create_poll(
            user=owner, room_id=room.pk, question=question, options=options, is_anonymous=False
        ).message.poll
        option_ids = list(poll.options.order_by("position").values_list("pk", flat=True))
        members = [
            membership.user
            for membership in room.memberships.filter(state=Membership.State.ACTIVE)
            .select_related("user")
            .order_by("id")[:6]
        ]
        for number, member in enumerate(members):
            vote(user=member, poll_id=poll.pk, option_ids=[option_ids[number % len(option_ids)]])
        title, place, zone = demo_data.MEETUPS.get(language, demo_data.MEETUPS["en"])
        starts_at = (timezone.now() + timedelta(days=7)).replace(minute=0, second=0, microsecond=0)
        meetup = create_meetup(
            user=owner,
            room_id=room.pk,
            title=title,
            starts_at=starts_at,
            time_zone=zone,
            place=place,
            capacity=10,
        ).message.meetup
        for member in members[:4]:
            rsvp(user=member, meetup_id=meetup.pk, status="going")

    def _react(self, room: Room, people: list[User], messages: list, rng: random.Random) -> None:
        """One-tap reactions on some messages, and likes on the room, as members do."""
        for message in rng.sample(messages, k=len(messages) // 3):
            for person in rng.sample(people, k=rng.randint(1, 4)):
                emoji = rng.choice(QUICK_REACTIONS)
                check_add_reaction(
                    user=person, target_type="message", target_id=message.pk, emoji=emoji
                )
        for person in rng.sample(people, k=rng.randint(1, len(people) // 2)):
            check_add_reaction(user=person, target_type="room", target_id=room.pk, emoji="❤️")
