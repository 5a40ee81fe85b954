"""REST API v1 for the company's own systems: upsert and read customers and subscriptions."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response

from core.api_errors import error_body
from core.enums import ApiScope
from subscriptions import selectors, services
from subscriptions.actors import Actor
from subscriptions.serializers import CustomerSerializer, SubscriptionSerializer

ERROR_RESPONSES = {
    400: OpenApiResponse(description="Invalid input: per-field errors in `errors`."),
    404: OpenApiResponse(
        description="Not found: the object in the path, or one the body names by its id or "
        "code (then `errors` names the field)."
    ),
}


def api_actor(request) -> Actor:
    return Actor.api(request.user.label)


class CustomerListView(generics.ListAPIView):
    required_scopes = {"GET": ApiScope.READ}
    serializer_class = CustomerSerializer

    def get_queryset(self):
        return selectors.customer_list()


class CustomerDetailView(generics.GenericAPIView):
    required_scopes = {"GET": ApiScope.READ, "PUT": ApiScope.SUBSCRIPTIONS_WRITE}
    serializer_class = CustomerSerializer
    lookup_field = "external_id"

    def get_queryset(self):
        return selectors.customer_list()

    @extend_schema(responses={200: CustomerSerializer, **ERROR_RESPONSES})
    def get(self, request, external_id: str):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        summary="Create or update a customer by external id (idempotent).",
        responses={
            200: CustomerSerializer,
            201: CustomerSerializer,
            **ERROR_RESPONSES,
            409: OpenApiResponse(
                description="The customer's personal data was erased, so it cannot be sent in "
                "again (`customer_erased`)."
            ),
        },
    )
    def put(self, request, external_id: str):
        if len(external_id) > 64:
            return Response(
                error_body("The external id is longer than 64 characters.", "invalid"),
                status=status.HTTP_400_BAD_REQUEST,
            )
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        customer, created, _ = services.customer_upsert(
            external_id=external_id, data=serializer.validated_data, actor=api_actor(request)
        )
        return Response(
            self.get_serializer(customer).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class SubscriptionListView(generics.ListAPIView):
    required_scopes = {"GET": ApiScope.READ}
    serializer_class = SubscriptionSerializer

    def get_queryset(self):
        return selectors.subscription_list()


class SubscriptionDetailView(generics.GenericAPIView):
    required_scopes = {"GET": ApiScope.READ, "PUT": ApiScope.SUBSCRIPTIONS_WRITE}
    serializer_class = SubscriptionSerializer
    lookup_field = "external_id"

    def get_queryset(self):
        return selectors.subscription_list()

    @extend_schema(responses={200: SubscriptionSerializer, **ERROR_RESPONSES})
    def get(self, request, external_id: str):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        summary="Create or update a subscription by external id (idempotent).",
        description=(
            "Status changes are applied through Tack's lifecycle rules and recorded in the "
            "ledger; an impossible transition is answered 409."
        ),
        responses={
            200: SubscriptionSerializer,
            201: SubscriptionSerializer,
            409: OpenApiResponse(
                description="The status change is not allowed (`invalid_transition`), or the "
                "subscription belongs to another customer (`customer_mismatch`)."
            ),
            **ERROR_RESPONSES,
        },
    )
    def put(self, request, external_id: str):
        if len(external_id) > 64:
            return Response(
                error_body("The external id is longer than 64 characters.", "invalid"),
                status=status.HTTP_400_BAD_REQUEST,
            )
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        subscription, created, _ = services.subscription_upsert(
            external_id=external_id,
            customer=data["customer"],
            plan=data["plan"],
            actor=api_actor(request),
            started_at=data.get("started_at"),
            current_period_end=data.get("current_period_end"),
            monthly_amount=data.get("monthly_amount"),
            status=data.get("status"),
            paused_until=data.get("paused_until"),
            cancel_at=data.get("cancel_at"),
            cancelled_at=data.get("cancelled_at"),
            cancelled_by=data.get("cancelled_by"),
        )
        return Response(
            self.get_serializer(get_object_or_404(self.get_queryset(), pk=subscription.pk)).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
