from rest_framework import serializers


class ErasureSerializer(serializers.Serializer):
    customer = serializers.CharField(source="customer.external_id")
    erased_at = serializers.DateTimeField()
    already_erased = serializers.BooleanField()
