from rest_framework import serializers

from profiles.models import User


class RegisterSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(
        write_only=True, max_length=128, style={"input_type": "password"}
    )
    email = serializers.EmailField(required=False, allow_blank=True)


class AccountSerializer(serializers.ModelSerializer):
    handle = serializers.CharField(source="profile.handle", read_only=True)
    display_name = serializers.CharField(source="profile.display_name", read_only=True)
    # Both may be blank: no e-mail given, or the locale follows the browser/device.
    email = serializers.CharField(read_only=True)
    locale = serializers.CharField(read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "email", "handle", "display_name", "locale", "timezone"]
        read_only_fields = fields
