"""Admin for push targets: support sees who has which devices and may remove one.

django-push-notifications registers admins of its own whose "send test message" actions
use its own FCM and APNs senders (not this project's, and without their libraries) and
whose lists show the tokens: they are replaced here. Tokens and keys are secrets of the
device and are never shown."""

from django.contrib import admin
from push_notifications.models import APNSDevice, GCMDevice, WebPushDevice, WNSDevice

for model in (APNSDevice, GCMDevice, WebPushDevice, WNSDevice):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


class PushTargetAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "name", "active", "date_created"]
    list_filter = ["active"]
    list_select_related = ["user"]
    search_fields = ["user__username", "name"]
    date_hierarchy = "date_created"
    fields = ["user", "name", "active", "date_created"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(APNSDevice)
class APNSDeviceAdmin(PushTargetAdmin):
    list_display = [*PushTargetAdmin.list_display, "application_id"]
    list_filter = ["active", "application_id"]


@admin.register(GCMDevice)
class FCMDeviceAdmin(PushTargetAdmin):
    pass


@admin.register(WebPushDevice)
class WebPushDeviceAdmin(PushTargetAdmin):
    list_display = [*PushTargetAdmin.list_display, "browser"]
    list_filter = ["active", "browser"]
