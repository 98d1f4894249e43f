"""`manage.py ledger_check` and the admin's ledger check page."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from commerce.models import Account
from commerce.services.ledger import user_account

pytestmark = pytest.mark.django_db


def test_ledger_check_passes_on_a_healthy_ledger(make_user, fund, capsys):
    fund(make_user(), 1000)
    call_command("ledger_check")
    assert "all invariants hold" in capsys.readouterr().out


def _corrupt_balance(account_id: int, by: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE commerce_account SET balance = balance + %s WHERE id = %s", [by, account_id]
        )


def test_ledger_check_names_a_corrupted_balance(make_user, fund, capsys):
    user = make_user()
    fund(user, 1000)
    account = user_account(user_id=user.pk, kind=Account.Kind.WALLET, currency="KRW")
    _corrupt_balance(account.pk, 500)
    with pytest.raises(CommandError) as caught:
        call_command("ledger_check")
    assert caught.value.returncode == 1
    err = capsys.readouterr().err
    assert "currency_sums_to_zero" in err and "KRW account balances sum to 500" in err
    assert f"stored_balance_matches_transfers: account {account.pk}" in err
    assert "running_balance_matches" in err


def test_ledger_check_names_a_corrupted_hold(make_user, fund, capsys):
    user = make_user()
    fund(user, 1000)
    account = user_account(user_id=user.pk, kind=Account.Kind.WALLET, currency="KRW")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE commerce_account SET pending_debits = 7 WHERE id = %s", [account.pk])
    with pytest.raises(CommandError):
        call_command("ledger_check")
    assert "pending_matches_holds" in capsys.readouterr().err


def test_admin_shows_the_same_check(admin_client, make_user, fund):
    user = make_user()
    fund(user, 1000)
    page = admin_client.get("/admin/commerce/account/ledger-check/")
    assert page.status_code == 200
    assert b'id="ledger-ok"' in page.content
    account = user_account(user_id=user.pk, kind=Account.Kind.WALLET, currency="KRW")
    _corrupt_balance(account.pk, -1)
    page = admin_client.get("/admin/commerce/account/ledger-check/")
    assert b"stored_balance_matches_transfers" in page.content
    assert b"ledger-check" in admin_client.get("/admin/commerce/account/").content


def test_ledger_check_page_is_staff_only(client, user):
    client.force_login(user)
    response = client.get("/admin/commerce/account/ledger-check/")
    assert response.status_code == 302
