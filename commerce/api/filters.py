import django_filters

from commerce.models import Account, Leg


class StatementFilter(django_filters.FilterSet):
    """``?currency=KRW&account=wallet`` on the statement."""

    currency = django_filters.CharFilter(method="filter_currency", max_length=3)
    account = django_filters.ChoiceFilter(
        field_name="account__kind",
        choices=[(kind.value, kind.label) for kind in Account.USER_KINDS],
    )

    class Meta:
        model = Leg
        fields = ["currency", "account"]

    def filter_currency(self, queryset, name, value):
        return queryset.filter(currency=value.upper())
