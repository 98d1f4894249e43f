"""Account deletion and export: the ledger keeps the money, forgets the names."""

import pytest

from commerce.privacy import anonymise_ledger_entries, export_ledger
from commerce.services import send_tip

pytestmark = pytest.mark.django_db


def test_deleting_an_account_removes_its_name_from_others_statements(make_user, fund, client_for):
    fan, creator = make_user(), make_user()
    fund(fan, 1000)
    send_tip(sender=fan, amount=100, currency="KRW", recipient_handle=creator.profile.handle)
    before = client_for(fan).get("/api/v1/wallet/transactions/").json()["results"][0]
    assert before["counterparty"] == f"@{creator.profile.handle}"
    anonymise_ledger_entries(user=creator, delete_messages=False)
    after = client_for(fan).get("/api/v1/wallet/transactions/").json()["results"][0]
    assert after["counterparty"] == "Deleted member"
    assert (after["net"], after["balance"]) == (before["net"], before["balance"])
    creator_line = client_for(creator).get("/api/v1/wallet/transactions/").json()["results"][0]
    assert creator_line["counterparty"] == f"@{fan.profile.handle}"


def test_export_lists_balances_and_every_statement_line(make_user, fund):
    fan, creator = make_user(), make_user()
    fund(fan, 1000)
    send_tip(sender=fan, amount=100, currency="KRW", recipient_handle=creator.profile.handle)
    exported = export_ledger(fan)
    assert exported["balances"][0]["wallet"] == 900
    assert [line["net"] for line in exported["statement"]] == [1000, -100]
    assert exported["statement"][1]["counterparty"] == f"@{creator.profile.handle}"


def test_registered_with_the_account_registries_when_present():
    deletion = pytest.importorskip("profiles.deletion")
    export = pytest.importorskip("profiles.export")
    assert "ledger" in deletion.deletion_hook_names()
    assert "ledger" in export.export_section_names()


def test_notes_sent_with_room_tips_are_exported_and_deleted(
    make_user, make_room, make_member, fund
):
    from commerce.models import Tip

    fan, creator = make_user(), make_user()
    room = make_room()
    creator_member = make_member(room, creator, nickname="Minji")
    make_member(room, fan, nickname="Haruto")
    fund(fan, 1000)
    send_tip(
        sender=fan,
        amount=100,
        currency="KRW",
        membership_id=creator_member.pk,
        note="Thanks for the set",
    )
    notes = export_ledger(fan)["tip_notes"]
    assert [(note["to"], note["note"]) for note in notes] == [("Minji", "Thanks for the set")]
    assert export_ledger(creator)["tip_notes"] == []
    anonymise_ledger_entries(user=fan, delete_messages=False)
    tip = Tip.objects.get()
    assert (tip.note, tip.sender_label) == ("", "Deleted member")
