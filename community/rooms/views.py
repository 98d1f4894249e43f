"""Room and discovery pages. They translate requests to the room services and selectors."""

import copy

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from community import access
from community.chat.models import Message
from community.media.selectors import LARGE_SIZE, image_url
from community.reactions.selectors import reaction_summaries, with_reaction_summaries
from community.rooms import selectors, services
from community.rooms.forms import (
    CreateRoomForm,
    JoinForm,
    LeaveForm,
    MyMembershipForm,
    RoomForm,
    add_domain_error,
)
from community.rooms.models import JoinRequest, Membership, Room, RoomInvite
from config.errors import DomainError, NotFoundError
from profiles.selectors import blocked_member_ids_in_room, is_collapsed_for

DISCOVER_SECTION_SIZE = 8
DISCOVER_INTERESTS = 24
SEARCH_PAGE_SIZE = 24
ROOM_CARD_TEMPLATE = "community/includes/room_card.html"


def _viewer(request):
    return request.user if request.user.is_authenticated else None


def _readable_room(request, room_id: int) -> Room:
    try:
        return selectors.get_room_for_viewer(room_id=room_id, viewer=_viewer(request))
    except NotFoundError as exc:
        raise Http404(exc.message) from exc


def _host_room(request, room_id: int) -> Room:
    room = _readable_room(request, room_id)
    if not access.can_manage_members(membership=access.annotated_membership(room)):
        raise Http404(_("Room not found."))
    return room


def _offset(request) -> int:
    try:
        return max(0, int(request.GET.get("offset", 0)))
    except ValueError:
        return 0


def home(request):
    """Discover: search, for you, trending, rooms by interest and new rooms."""
    viewer = _viewer(request)
    if viewer is None:
        # Anonymous visitors all see the same shelves: rendered once per language for a
        # few seconds (selectors.DISCOVER_CACHE_SECONDS; shown stale while one request
        # renders them again), the page around them per request.
        key = selectors.anonymous_discover_html_key(get_language())
        shelves = selectors.discover_part(
            key=key, entry=cache.get(key), build=lambda: _render_shelves(viewer=None)
        )
    else:
        shelves = _render_shelves(viewer=viewer)
    return render(
        request,
        "community/home.html",
        {
            # Rendered by this view from escaped templates (possibly from the cache).
            "shelves": mark_safe(shelves),  # noqa: S308
        },
    )


def _render_shelves(*, viewer) -> str:
    """For you (signed in), trending, interests and new rooms. The shared shelves are
    ranked for everyone alike and For you from one shared trend map
    (selectors.discover_shared); each card is the one everyone sees unless it carries
    the viewer's own state (:func:`_discover_cards`)."""
    shared = selectors.discover_shared(
        size=DISCOVER_SECTION_SIZE, interests=DISCOVER_INTERESTS, trend_map=viewer is not None
    )
    ids = shared["ids"]
    for_you = (
        selectors.for_you_room_ids(
            viewer=viewer, size=DISCOVER_SECTION_SIZE, trend_map=shared["trend_map"]
        )
        if viewer is not None
        else []
    )
    cards = _discover_cards(
        [*for_you, *ids["trending"], *ids["fresh"]],
        viewer=viewer,
        generation=shared["generation"],
    )
    return render_to_string(
        "community/includes/discover_shelves.html",
        {
            "for_you": [cards[pk] for pk in for_you if pk in cards],
            "trending": [cards[pk] for pk in ids["trending"] if pk in cards],
            "fresh": [cards[pk] for pk in ids["fresh"] if pk in cards],
            "interests": shared["interests"],
        },
    )


def _render_card(room: Room) -> str:
    # Escaped by the template; placed as is into the shelves.
    return mark_safe(get_template(ROOM_CARD_TEMPLATE).render({"room": room}))  # noqa: S308


def _discover_cards(ids: list[int], *, viewer, generation: str) -> dict[int, str]:
    """The card HTML of those of ``ids`` still listed, by id.

    A card is the same for everyone (kept rendered per language in the shared cache for
    DISCOVER_CACHE_SECONDS, under a generation that room writers renew) unless the
    viewer joined the room, asked to join or liked it: those few are rendered per
    request from the shared card's data with the viewer's badge and ``me`` flags. A
    viewer who blocks anyone sees like counts without the people they blocked, so all
    their cards are read and rendered for them alone."""
    ids = list(dict.fromkeys(ids))
    state = selectors.discover_viewer_state(ids=ids, viewer=viewer)
    listed = [pk for pk in ids if pk in state["listed"]]
    if state["blocks_anyone"]:
        rooms = selectors.listed_room_cards_by_ids(listed, viewer)
        with_reaction_summaries("room", list(rooms.values()), viewer=viewer)
        selectors.with_room_offers(list(rooms.values()), viewer=viewer)
        return {pk: _render_card(room) for pk, room in rooms.items()}
    personal = set(state["joined"]) | state["requested"] | state["liked"]
    language = get_language()
    html_keys = {
        pk: selectors.discover_card_key(generation, "html", pk, language)
        for pk in listed
        if pk not in personal
    }
    data_keys = {pk: selectors.discover_card_key(generation, "data", pk) for pk in listed}
    found = cache.get_many([*html_keys.values(), *(data_keys[pk] for pk in personal)])
    cards = {pk: found[key] for pk, key in html_keys.items() if key in found}
    rooms = {pk: found[data_keys[pk]] for pk in personal if data_keys[pk] in found}
    missing = [pk for pk in listed if pk not in cards and pk not in rooms]
    if missing:
        found = cache.get_many([data_keys[pk] for pk in missing])
        rooms.update({pk: found[data_keys[pk]] for pk in missing if data_keys[pk] in found})
        loaded = selectors.shared_room_cards([pk for pk in missing if pk not in rooms])
        cache.set_many(
            {data_keys[pk]: room for pk, room in loaded.items()}, selectors.DISCOVER_CACHE_SECONDS
        )
        rooms.update(loaded)
    # The rooms the viewer liked: their like counts and ``me`` flags read now (one query),
    # so their own like shows at once; blocks_anyone is False here.
    likes = (
        reaction_summaries("room", state["liked"], viewer, viewer_blocks_anyone=False)
        if state["liked"]
        else {}
    )
    rendered = {}
    for pk in listed:
        room = rooms.get(pk)
        if pk in cards or room is None:  # cached, or left the listing meanwhile
            continue
        if pk in personal:
            room = copy.copy(room)
            room.viewer_membership_id = state["joined"].get(pk)
            room.viewer_has_pending_request = pk in state["requested"]
            room.reaction_summary = likes.get(pk, room.reaction_summary)
            cards[pk] = _render_card(room)
        else:
            cards[pk] = rendered[html_keys[pk]] = _render_card(room)
    if rendered:
        cache.set_many(rendered, selectors.DISCOVER_CACHE_SECONDS)
    return cards


def room_search(request):
    """Search and browse listed rooms by text, interest and language."""
    q = request.GET.get("q", "").strip()[:100]
    interest = request.GET.get("interest", "").strip()[:60]
    language = request.GET.get("language", "").strip()[:10]
    offset = _offset(request)
    rooms = list(
        selectors.search_rooms(viewer=_viewer(request), q=q, interest=interest, language=language)[
            offset : offset + SEARCH_PAGE_SIZE + 1
        ]
    )
    has_next = len(rooms) > SEARCH_PAGE_SIZE
    rooms = with_reaction_summaries("room", rooms[:SEARCH_PAGE_SIZE], viewer=request.user)
    selectors.with_room_offers(rooms, viewer=_viewer(request))
    params = request.GET.copy()
    next_url = previous_url = None
    if has_next:
        params["offset"] = offset + SEARCH_PAGE_SIZE
        next_url = f"?{params.urlencode()}"
    if offset:
        params["offset"] = max(0, offset - SEARCH_PAGE_SIZE)
        previous_url = f"?{params.urlencode()}"
    return render(
        request,
        "community/room_search.html",
        {
            "rooms": rooms,
            "q": q,
            "interest": interest,
            "language": language,
            "interests": selectors.all_interests(),
            "next_url": next_url,
            "previous_url": previous_url,
        },
    )


@login_required
def room_create(request):
    form = CreateRoomForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            room = services.create_room(owner=request.user, **form.service_kwargs())
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            return redirect("room-detail", room_id=room.pk)
    return render(request, "community/room_form.html", {"form": form, "room": None})


@login_required
def room_edit(request, room_id: int):
    room = _host_room(request, room_id)
    initial = {
        "title": room.title,
        "description": room.description,
        "language": room.language,
        "interests": list(room.interests.all()),
        "hashtags": " ".join(f"#{tag.label}" for tag in room.hashtags.all()),
        "visibility": room.visibility,
        "join_policy": room.join_policy,
        "capacity": room.capacity,
        "slow_mode_seconds": room.slow_mode_seconds,
        "is_web_public": room.is_web_public,
    }
    form = RoomForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_room(room_id=room.pk, actor=request.user, **form.service_kwargs())
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("Room saved."))
            return redirect("room-detail", room_id=room.pk)
    return render(request, "community/room_form.html", {"form": form, "room": room})


def room_detail(request, room_id: int):
    viewer = _viewer(request)
    try:
        room, membership = selectors.room_page_for_viewer(room_id=room_id, viewer=viewer)
    except NotFoundError as exc:
        if viewer is None:
            return redirect_to_login(request.get_full_path())
        raise Http404(exc.message) from exc
    preview = []
    if membership is None and selectors.can_read_messages(room):
        # Readers of a web-public room who are not members see the latest messages,
        # read-only, by nickname. Anyone else who is not a member (a password, approval,
        # unlisted or paid room; a banned or departed member) sees no message content.
        preview = list(
            Message.objects.filter(room=room, deleted_at__isnull=True)
            .select_related("author")
            .order_by("-seq")[:20]
        )[::-1]
        if viewer is not None:
            # A viewer who blocks no one (the room query says) has no one to fold.
            blocked = (
                blocked_member_ids_in_room(viewer, room.pk) if room.viewer_blocks_anyone else set()
            )
            for message in preview:
                message.collapsed = is_collapsed_for(message.author_id, blocked)
    room.reaction_summary = reaction_summaries(
        "room", [room.pk], viewer, viewer_blocks_anyone=room.viewer_blocks_anyone
    )[room.pk]
    selectors.with_room_offers([room], viewer=viewer)
    cover_url = image_url(room.cover_media, LARGE_SIZE)
    context = {
        "room": room,
        "membership": membership,
        "preview": preview,
        "can_read_messages": selectors.can_read_messages(room),
        # The viewer's ``can_*`` flags (community.access): the page and chat.js use these.
        "permissions": access.room_permissions(room, user=request.user, membership=membership),
        "similar": selectors.similar_room_cards(room=room, size=6),
        # Shown to hosts of rooms that take requests only.
        "pending_count": (
            selectors.pending_join_requests(room=room).count()
            if room.join_policy == Room.JoinPolicy.APPROVAL
            and access.can_manage_members(membership=membership)
            else 0
        ),
        # The room's notice, with who set it (room nickname) and when.
        "announcement": selectors.page_announcement(room),
        "og_url": request.build_absolute_uri(reverse("room-detail", args=[room.pk])),
        "og_image": request.build_absolute_uri(cover_url) if cover_url else "",
    }
    return render(request, "community/room_detail.html", context)


def room_members(request, room_id: int):
    room = _readable_room(request, room_id)
    viewer_membership = access.annotated_membership(room)
    permissions = access.room_permissions(room, user=request.user, membership=viewer_membership)
    members = list(selectors.room_members(room=room)[:500])
    # The member rows the viewer may manage (community.access.can_act_on): hosts only
    # here; site moderators use the room tools page.
    manageable_ids = (
        {
            member.pk
            for member in members
            if access.can_act_on(actor=viewer_membership, target=member)
        }
        if permissions["can_manage_members"]
        else set()
    )
    return render(
        request,
        "community/room_members.html",
        {
            "room": room,
            "members": members,
            "banned": (
                list(selectors.banned_members(room=room)[:200])
                if permissions["can_manage_members"]
                else []
            ),
            "blocked_ids": (
                set(
                    selectors.my_member_blocks(room=room, viewer=request.user).values_list(
                        "membership_id", flat=True
                    )
                )
                if room.viewer_membership_id
                else set()
            ),
            "manageable_ids": manageable_ids,
            # The member menu (community/includes/member_menu.html), as on the room tools.
            "viewer_is_host": permissions["can_manage_members"],
            "is_owner": access.is_owner(viewer_membership),
            "permissions": permissions,
        },
    )


def _join_context(request, room: Room, invite: RoomInvite | None):
    initial = {"is_open_profile": True}
    if invite:
        initial["invite_code"] = invite.code
    form = JoinForm(request.POST or None, room=room, has_invite=invite is not None, initial=initial)
    return form


def _checkout_redirect(room: Room, *, viewer, invite: RoomInvite | None):
    """A paid room the viewer has not paid for: Join opens its checkout (the wallet's
    room page), which sends them back here once paid."""
    selectors.with_room_offers([room], viewer=viewer)
    offer = room.offer
    if offer is None or (offer["access"] or {}).get("active"):
        return None
    url = reverse("commerce:room_access", args=[room.pk])
    if invite is not None:
        url += "?" + urlencode({"invite": invite.code})
    return redirect(url)


@login_required
def room_join(request, room_id: int):
    invite = None
    code = request.POST.get("invite_code") or request.GET.get("invite", "")
    if code:
        # Only a usable invite opens a room the viewer could not see otherwise; a used,
        # expired or revoked one leaves them where they were (a private room: missing).
        invite = RoomInvite.objects.filter(room_id=room_id, code=code).first()
        if invite is not None and not services.invite_is_usable(invite):
            invite = None
    if invite is not None:
        room = selectors.room_cards(selectors.live_rooms().filter(pk=room_id), request.user)
        room = room.first()
        if room is None:
            raise Http404(_("Room not found."))
    else:
        room = _readable_room(request, room_id)
    if room.viewer_membership_id:
        return redirect("room-detail", room_id=room.pk)
    checkout = _checkout_redirect(room, viewer=request.user, invite=invite)
    if checkout is not None:
        return checkout
    form = _join_context(request, room, invite)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = services.join_room(
                room_id=room.pk,
                user=request.user,
                nickname=data["nickname"],
                password=data.get("password", ""),
                is_open_profile=data["is_open_profile"],
                invite_code=data.get("invite_code", ""),
                message=data.get("message", ""),
            )
        except NotFoundError as exc:
            raise Http404(exc.message) from exc
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            if isinstance(result, JoinRequest):
                messages.info(request, _("Request sent. A host will look at it soon."))
            else:
                messages.success(request, _("Welcome to the room!"))
            return redirect("room-detail", room_id=room.pk)
    return render(
        request, "community/room_join.html", {"room": room, "form": form, "invite": invite}
    )


@login_required
@require_POST
def cancel_request(request, room_id: int):
    try:
        services.cancel_join_request(room_id=room_id, user=request.user)
    except NotFoundError as exc:
        raise Http404(exc.message) from exc
    messages.info(request, _("Request withdrawn."))
    return redirect("room-detail", room_id=room_id)


@login_required
def invite_page(request, code: str):
    invite = RoomInvite.objects.select_related("room").filter(code=code).first()
    if invite is None or not services.invite_is_usable(invite):
        raise Http404(_("This invite link is invalid or has expired."))
    room = selectors.room_cards(selectors.live_rooms().filter(pk=invite.room_id), request.user)
    room = room.first()
    if room is None:
        raise Http404(_("This invite link is invalid or has expired."))
    if room.viewer_membership_id:
        return redirect("room-detail", room_id=room.pk)
    if request.user.is_authenticated:
        checkout = _checkout_redirect(room, viewer=request.user, invite=invite)
        if checkout is not None:
            return checkout
    form = _join_context(request, room, invite)
    return render(
        request, "community/room_join.html", {"room": room, "form": form, "invite": invite}
    )


@login_required
def room_leave(request, room_id: int):
    room = _readable_room(request, room_id)
    if not room.viewer_membership_id:
        return redirect("room-detail", room_id=room.pk)
    is_owner = access.is_owner(access.annotated_membership(room))
    members = (
        selectors.room_members(room=room).exclude(pk=room.viewer_membership_id)
        if is_owner
        else None
    )
    form = LeaveForm(request.POST or None, members=members)
    if request.method == "POST" and form.is_valid():
        successor = form.cleaned_data.get("successor")
        try:
            services.leave_room(
                room_id=room.pk,
                user=request.user,
                successor_id=successor.pk if successor else None,
                archive=form.cleaned_data.get("archive", False),
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("You left the room."))
            return redirect("home")
    return render(
        request, "community/room_leave.html", {"room": room, "form": form, "is_owner": is_owner}
    )


@login_required
def my_membership(request, room_id: int):
    room = _readable_room(request, room_id)
    membership = Membership.objects.filter(
        pk=room.viewer_membership_id, state=Membership.State.ACTIVE
    ).first()
    if membership is None:
        return redirect("room-join", room_id=room.pk)
    form = MyMembershipForm(
        request.POST or None,
        request.FILES or None,
        initial={"nickname": membership.nickname, "is_open_profile": membership.is_open_profile},
        membership=membership,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.update_my_membership(
                room_id=room.pk,
                user=request.user,
                nickname=form.cleaned_data["nickname"],
                is_open_profile=form.cleaned_data["is_open_profile"],
                avatar=form.cleaned_data.get("avatar") or None,
                remove_avatar=form.cleaned_data.get("remove_avatar", False),
            )
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, _("Saved."))
            return redirect("room-detail", room_id=room.pk)
    return render(request, "community/room_me.html", {"room": room, "form": form})


@login_required
def room_requests(request, room_id: int):
    room = _host_room(request, room_id)
    if request.method == "POST":
        decision = request.POST.get("decision")
        try:
            request_id = int(request.POST.get("request_id", ""))
        except ValueError:
            request_id = 0
        try:
            if decision == "approve":
                services.approve_join_request(
                    room_id=room.pk, request_id=request_id, actor=request.user
                )
                messages.success(request, _("Request approved."))
            elif decision == "decline":
                services.decline_join_request(
                    room_id=room.pk, request_id=request_id, actor=request.user
                )
                messages.success(request, _("Request declined."))
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("room-requests", room_id=room.pk)
    return render(
        request,
        "community/room_requests.html",
        {"room": room, "requests": list(selectors.pending_join_requests(room=room)[:200])},
    )


@login_required
@require_POST
def member_action(request, room_id: int, membership_id: int, action: str):
    """Actions from the member list: block and unblock (any member, for themselves);
    role and hand over (hosts). Mute, ban and unban post to the room tools
    (``community.moderation.views.room_moderation``): one URL per action."""
    if action in ("block", "unblock"):
        return _member_block_action(request, room_id, membership_id, block=action == "block")
    room = _host_room(request, room_id)
    try:
        if action == "role":
            services.change_member_role(
                room_id=room.pk,
                actor=request.user,
                membership_id=membership_id,
                role=request.POST.get("role", ""),
            )
        elif action == "transfer":
            services.transfer_ownership(
                room_id=room.pk, actor=request.user, membership_id=membership_id
            )
        else:
            raise Http404
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Done."))
    return redirect("room-members", room_id=room.pk)


def _member_block_action(request, room_id: int, membership_id: int, *, block: bool):
    room = _readable_room(request, room_id)
    try:
        if block:
            services.block_member(room_id=room.pk, actor=request.user, membership_id=membership_id)
        else:
            services.unblock_member(
                room_id=room.pk, actor=request.user, membership_id=membership_id
            )
    except NotFoundError as exc:
        raise Http404(exc.message) from exc
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("Blocked. Their messages in this room are folded for you.")
            if block
            else _("Unblocked."),
        )
    return redirect("room-members", room_id=room.pk)


@login_required
def room_invites(request, room_id: int):
    room = _readable_room(request, room_id)
    if not room.viewer_membership_id:
        raise Http404(_("Room not found."))
    invite = None
    if request.method == "POST":
        try:
            invite = services.create_invite(room_id=room.pk, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
    invite_url = request.build_absolute_uri(reverse("invite", args=[invite.code])) if invite else ""
    return render(
        request,
        "community/room_invite.html",
        {"room": room, "invite": invite, "invite_url": invite_url},
    )
