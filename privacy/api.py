"""API v1: a customer's data as one document, and erasure of their personal data."""

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api_idempotency import IDEMPOTENCY_HEADER, idempotent_post
from core.enums import ApiScope
from privacy import services
from privacy.serializers import ErasureSerializer
from subscriptions.api import ERROR_RESPONSES, api_actor
from subscriptions.selectors import customer_list

AUTH_AND_NOT_FOUND = {404: ERROR_RESPONSES[404]}


class CustomerExportView(APIView):
    required_scopes = {"GET": ApiScope.PRIVACY}

    @extend_schema(
        summary="Everything Tack holds about a customer, as one JSON document (GDPR export).",
        description=(
            "Profile, subscriptions with their ledger, cancellation cases with offers, steps, "
            "interview notes and their history, callbacks, lost-customer records, outreach, "
            "comebacks, emails, suppression, the webhook events sent about them and the "
            "data-rights log (`format` `tack.customer-export`, `version` 1). Every export is "
            "audited."
        ),
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="The export document."),
            **AUTH_AND_NOT_FOUND,
        },
    )
    def get(self, request, external_id: str):
        customer = get_object_or_404(customer_list(), external_id=external_id)
        return Response(services.customer_data_export(customer=customer, actor=api_actor(request)))


class CustomerEraseView(APIView):
    required_scopes = {"POST": ApiScope.PRIVACY}

    @extend_schema(
        summary="Erase a customer's personal data (GDPR erasure); the facts stay.",
        description=(
            "Name, email, phone and every free text about the customer are removed, also from "
            "history; cases, outcomes, amounts and dates stay, so the figures do not change. "
            "A hash of the email address is kept so the person is never contacted again. "
            "Erasing again answers 200 with `already_erased: true`. The customer can no "
            "longer be updated through the API (409 `customer_erased`). Audited."
        ),
        request=None,
        responses={200: ErasureSerializer, **AUTH_AND_NOT_FOUND},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request, external_id: str):
        def handle():
            customer = get_object_or_404(customer_list(), external_id=external_id)
            erasure = services.customer_erase(customer=customer, actor=api_actor(request))
            return Response(ErasureSerializer(erasure).data)

        return idempotent_post(request, self, handle)
