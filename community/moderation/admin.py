"""The moderation queue (cases), reports, appeals, held messages, word filters and the audit log."""

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from community.chat.models import Message
from community.moderation import selectors as moderation_selectors
from community.moderation import services as moderation_services
from community.moderation.models import (
    Appeal,
    AuditLogEntry,
    BlockedPattern,
    HeldMessage,
    ModerationCase,
    Report,
)
from config.errors import DomainError


class CaseStatusFilter(admin.SimpleListFilter):
    """Open cases by default: the changelist *is* the queue."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [*ModerationCase.Status.choices, ("all", _("All"))]

    def choices(self, changelist):
        value = self.value() or ModerationCase.Status.OPEN
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or ModerationCase.Status.OPEN
        if value == "all":
            return queryset
        return queryset.filter(status=value)


class CaseActionForm(forms.ModelForm):
    """The case's fields are read-only; the moderator picks one action and writes why."""

    action = forms.ChoiceField(
        label=_("Action"),
        choices=[("", "---------"), *moderation_services.CaseAction.CHOICES],
        required=False,
    )
    minutes = forms.IntegerField(
        label=_("Duration (minutes)"),
        required=False,
        min_value=1,
        help_text=_("For a mute or a suspension. 1440 is a day."),
    )
    note = forms.CharField(
        label=_("Note (why)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=moderation_services.NOTE_MAX_LENGTH,
    )

    class Meta:
        model = ModerationCase
        fields: list[str] = []

    def clean(self):
        data = super().clean()
        if data.get("action"):
            if not (data.get("note") or "").strip():
                self.add_error("note", gettext("Write a short note saying why."))
            if data["action"] in moderation_services.CaseAction.NEEDS_MINUTES and not data.get(
                "minutes"
            ):
                self.add_error("minutes", gettext("Choose a duration."))
        return data


def _message_line(message: Message, *, highlight_id: int | None = None):
    author = message.author.nickname if message.author else gettext("(system)")
    body = gettext("(hidden)") if message.deleted_at else message.body
    marker = "▶ " if message.pk == highlight_id else ""
    return (marker, message.seq, author, body)


@admin.register(ModerationCase)
class ModerationCaseAdmin(admin.ModelAdmin):
    form = CaseActionForm
    list_display = [
        "id",
        "target_type",
        "top_reason",
        "severity",
        "reporter_count",
        "room",
        "subject",
        "status",
        "updated_at",
    ]
    list_display_links = ["id", "target_type"]
    list_select_related = ["room", "subject"]
    list_filter = [CaseStatusFilter, "target_type", "top_reason"]
    ordering = ["-severity", "-reporter_count", "id"]
    show_full_result_count = False
    list_per_page = 50
    actions = ["resolve_selected", "dismiss_selected", "hide_reported_messages"]
    readonly_fields = [
        "target_type",
        "status",
        "severity",
        "top_reason",
        "reporter_count",
        "created_at",
        "updated_at",
        "closed_at",
        "closed_by",
        "resolution_note",
        "reported_content",
        "reports_received",
        "appeal_text",
        "messages_around",
        "room_summary",
        "subject_history",
    ]
    fieldsets = [
        (
            _("Case"),
            {
                "fields": [
                    ("target_type", "status"),
                    ("top_reason", "severity", "reporter_count"),
                    ("created_at", "updated_at"),
                    ("closed_at", "closed_by"),
                    "resolution_note",
                ]
            },
        ),
        (_("Reported content"), {"fields": ["reported_content", "reports_received"]}),
        (_("Appeal"), {"fields": ["appeal_text"]}),
        (_("Context"), {"fields": ["messages_around", "room_summary", "subject_history"]}),
        (_("Act"), {"fields": ["action", "minutes", "note"]}),
    ]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("room", "subject", "closed_by", "message__author", "membership")
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(self.fieldsets)
        if obj is not None and obj.target_type != ModerationCase.TargetType.APPEAL:
            fieldsets = [f for f in fieldsets if f[1]["fields"] != ["appeal_text"]]
        if obj is None or obj.status != ModerationCase.Status.OPEN:
            fieldsets = [f for f in fieldsets if f[1]["fields"] != ["action", "minutes", "note"]]
        return fieldsets

    # --- read-only panels (all user text escaped by format_html) ---

    @admin.display(description=_("Reported"))
    def reported_content(self, case: ModerationCase):
        if case.message_id and case.message:
            message = case.message
            author = message.author.nickname if message.author else ""
            return format_html(
                '<div class="moderation-reported"><p><strong>{}</strong> · #{} · {}</p>'
                '<blockquote dir="auto">{}</blockquote>{}</div>',
                author,
                message.seq,
                message.created_at.strftime("%Y-%m-%d %H:%M"),
                message.body,
                format_html("<p><em>{}</em></p>", gettext("Hidden.")) if message.deleted_at else "",
            )
        if case.membership_id and case.membership:
            member = case.membership
            return format_html(
                "<p>{} <strong>{}</strong> ({}, {})</p>",
                gettext("Member shown as"),
                member.nickname,
                member.get_role_display(),
                member.get_state_display(),
            )
        if case.room_id and case.room:
            return format_html(
                '<p><strong dir="auto">{}</strong></p><p dir="auto">{}</p>',
                case.room.title,
                case.room.description,
            )
        return "-"

    @admin.display(description=_("Reports"))
    def reports_received(self, case: ModerationCase):
        rows = case.reports.order_by("-id")[:50]
        return format_html_join(
            "",
            '<p>{} · <strong>{}</strong> <span dir="auto">{}</span></p>',
            (
                (r.created_at.strftime("%Y-%m-%d %H:%M"), r.get_reason_display(), r.text)
                for r in rows
            ),
        ) or gettext("No reports (an appeal).")

    @admin.display(description=_("Appeal"))
    def appeal_text(self, case: ModerationCase):
        appeal = Appeal.objects.filter(case=case).select_related("sanction").first()
        if appeal is None:
            return "-"
        return format_html(
            '<p><strong>{}</strong> · {}: {}</p><blockquote dir="auto">{}</blockquote>',
            appeal.get_kind_display(),
            gettext("against"),
            appeal.sanction.reason or appeal.sanction.get_action_display(),
            appeal.text,
        )

    @admin.display(description=_("Messages around it"))
    def messages_around(self, case: ModerationCase):
        if not case.message_id or case.message is None:
            return "-"
        rows = moderation_selectors.messages_around(case.message)
        return format_html(
            '<ol class="moderation-context">{}</ol>',
            format_html_join(
                "",
                '<li>{}#{} <strong>{}</strong>: <span dir="auto">{}</span></li>',
                (_message_line(m, highlight_id=case.message_id) for m in rows),
            ),
        )

    @admin.display(description=_("Room"))
    def room_summary(self, case: ModerationCase):
        room = case.room
        if room is None:
            return "-"
        return format_html(
            '<p><strong dir="auto">{}</strong> (#{}) · {} · {} {}{}</p>',
            room.title,
            room.pk,
            room.get_visibility_display(),
            room.member_count,
            gettext("members"),
            format_html(" · <strong>{}</strong>", gettext("suspended"))
            if room.is_suspended
            else "",
        )

    @admin.display(description=_("Author's history"))
    def subject_history(self, case: ModerationCase):
        history = moderation_selectors.subject_history(case)
        if case.subject_id is None:
            return "-"
        cases = format_html_join(
            "",
            '<li><a href="{}">#{}</a> {} · {} · {}</li>',
            (
                (
                    reverse("admin:community_moderationcase_change", args=[c.pk]),
                    c.pk,
                    c.get_target_type_display(),
                    c.get_top_reason_display(),
                    c.get_status_display(),
                )
                for c in history["cases"]
            ),
        )
        actions = format_html_join(
            "",
            "<li>{} · {} · {}</li>",
            (
                (a.created_at.strftime("%Y-%m-%d %H:%M"), a.get_action_display(), a.reason)
                for a in history["actions"]
            ),
        )
        recent = format_html_join(
            "",
            '<li>#{} <span dir="auto">{}</span></li>',
            ((m.seq, gettext("(hidden)") if m.deleted_at else m.body) for m in history["messages"]),
        )
        none = gettext("none")
        return format_html(
            "<p>{} #{}</p><h4>{}</h4><ul>{}</ul><h4>{}</h4><ul>{}</ul><h4>{}</h4><ul>{}</ul>",
            gettext("User"),
            case.subject_id,
            gettext("Earlier cases"),
            cases or none,
            gettext("Moderation actions"),
            actions or none,
            gettext("Recent messages in this room"),
            recent or none,
        )

    # --- acting ---

    def save_model(self, request, obj, form, change):
        action = form.cleaned_data.get("action")
        if not action:
            return
        try:
            moderation_services.check_case_action(
                moderator=request.user,
                case_id=obj.pk,
                action=action,
                note=form.cleaned_data.get("note", ""),
                minutes=form.cleaned_data.get("minutes"),
            )
        except DomainError as exc:
            request._moderation_error = exc.message
        else:
            request._moderation_done = dict(moderation_services.CaseAction.CHOICES)[action]

    def log_change(self, request, obj, message):
        # The audit log records desk actions; the generic admin history stays quiet.
        return None

    def response_change(self, request, obj):
        error = getattr(request, "_moderation_error", None)
        done = getattr(request, "_moderation_done", None)
        if error:
            self.message_user(request, error, messages.ERROR)
        elif done:
            self.message_user(request, gettext("Done: %(action)s.") % {"action": done})
        return HttpResponseRedirect(request.path)

    # --- bulk actions (each case gets its own audit entry) ---

    def _bulk_close(self, request, queryset, *, dismiss: bool):
        note = (request.POST.get("note") or "").strip()
        if "apply" not in request.POST or not note:
            if "apply" in request.POST:
                self.message_user(request, gettext("Write a note saying why."), messages.ERROR)
            return TemplateResponse(
                request,
                "admin/community/moderationcase/bulk_note.html",
                {
                    **self.admin_site.each_context(request),
                    "title": gettext("Dismiss cases") if dismiss else gettext("Resolve cases"),
                    "cases": queryset,
                    "action_name": "dismiss_selected" if dismiss else "resolve_selected",
                    "opts": self.model._meta,
                    "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                },
            )
        closed = moderation_services.bulk_close_cases(
            moderator=request.user,
            case_ids=list(queryset.values_list("pk", flat=True)),
            dismiss=dismiss,
            note=note,
        )
        self.message_user(request, gettext("%(count)d cases closed.") % {"count": closed})
        return None

    @admin.action(description=_("Resolve selected cases (with a note)"), permissions=["change"])
    def resolve_selected(self, request, queryset):
        return self._bulk_close(request, queryset, dismiss=False)

    @admin.action(description=_("Dismiss selected cases (with a note)"), permissions=["change"])
    def dismiss_selected(self, request, queryset):
        return self._bulk_close(request, queryset, dismiss=True)

    @admin.action(description=_("Hide the reported messages"), permissions=["change"])
    def hide_reported_messages(self, request, queryset):
        hidden = 0
        for case_id in sorted(
            queryset.filter(message__isnull=False, status="open").values_list("pk", flat=True)
        ):
            try:
                moderation_services.check_case_action(
                    moderator=request.user,
                    case_id=case_id,
                    action=moderation_services.CaseAction.HIDE_MESSAGE,
                    note=gettext("Hidden in bulk from the queue."),
                )
            except DomainError:
                continue
            hidden += 1
        self.message_user(request, gettext("%(count)d messages hidden.") % {"count": hidden})


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Report)
class ReportAdmin(ReadOnlyAdmin):
    list_display = ["id", "case", "reason", "created_at"]
    list_select_related = ["case"]
    list_filter = ["reason"]
    show_full_result_count = False
    fields = ["case", "reason", "text", "created_at"]
    readonly_fields = fields


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(ReadOnlyAdmin):
    """Append-only: nobody, not even a superuser, edits or deletes an entry here."""

    list_display = ["created_at", "actor", "action", "target_repr", "room", "case", "reason"]
    list_select_related = ["actor", "room", "case"]
    list_filter = ["action"]
    search_fields = ["target_repr"]
    show_full_result_count = False
    actions = None
    fields = [
        "created_at",
        "actor",
        "action",
        "target_type",
        "target_id",
        "target_repr",
        "subject",
        "room",
        "case",
        "reason",
        "details",
    ]
    readonly_fields = fields


@admin.register(Appeal)
class AppealAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "status", "case", "created_at", "decided_at"]
    list_select_related = ["case"]
    list_filter = ["kind", "status"]
    show_full_result_count = False
    fields = ["kind", "status", "case", "text", "created_at", "decided_at"]
    readonly_fields = fields


@admin.register(HeldMessage)
class HeldMessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "room", "membership", "rule_kind", "status", "created_at"]
    list_select_related = ["room", "membership"]
    list_filter = ["status", "rule_kind"]
    show_full_result_count = False


@admin.register(BlockedPattern)
class BlockedPatternAdmin(admin.ModelAdmin):
    list_display = ["text", "kind", "action", "room", "is_active", "created_at"]
    list_select_related = ["room"]
    list_filter = ["kind", "action", "is_active"]
    search_fields = ["text"]
    raw_id_fields = ["room"]
    fields = ["room", "kind", "text", "action", "is_active"]
    show_full_result_count = False
    actions = ["deactivate"]

    def save_model(self, request, obj, form, change):
        moderation_services.do_save_site_filter(actor=request.user, rule=obj, created=not change)

    def delete_model(self, request, obj):
        moderation_services.do_delete_site_filter(actor=request.user, rule=obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for rule in queryset:
                moderation_services.do_delete_site_filter(actor=request.user, rule=rule)

    @admin.action(description=_("Deactivate selected filters"), permissions=["change"])
    def deactivate(self, request, queryset):
        with transaction.atomic():
            for rule in queryset.filter(is_active=True):
                rule.is_active = False
                moderation_services.do_save_site_filter(
                    actor=request.user, rule=rule, created=False
                )
