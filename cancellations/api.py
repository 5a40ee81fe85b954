"""API v1 for companies that embed the cancellation flow in their own app."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from cancellations import links, selectors, services
from cancellations.models import CancellationCase, ExitReason
from cancellations.serializers import (
    CancellationCaseSerializer,
    CancelLinkSerializer,
    CaseStartSerializer,
    DeclineSerializer,
    ExitReasonSerializer,
    OfferAcceptSerializer,
)
from core.api_idempotency import IDEMPOTENCY_HEADER, idempotent_post
from core.enums import ApiScope
from subscriptions.actors import Actor
from subscriptions.api import ERROR_RESPONSES
from subscriptions.selectors import subscription_list

CONFLICT = {409: OpenApiResponse(description="The case is already decided, or a key conflict.")}


def _actor(request, channel: str) -> Actor:
    return Actor(channel=channel, label=request.user.label)


def _case_response(case: CancellationCase, code: int = status.HTTP_200_OK) -> Response:
    case = selectors.case_detail(pk=case.pk)
    return Response(CancellationCaseSerializer(case).data, status=code)


class ExitReasonListView(generics.ListAPIView):
    required_scopes = {"GET": ApiScope.READ}
    serializer_class = ExitReasonSerializer
    pagination_class = None

    def get_queryset(self):
        return ExitReason.objects.filter(active=True)


class CancelLinkView(APIView):
    required_scopes = {"POST": ApiScope.CANCELLATIONS_WRITE}

    @extend_schema(
        summary="A signed, expiring link into the cancellation flow for this subscription.",
        request=None,
        responses={200: CancelLinkSerializer, **ERROR_RESPONSES},
    )
    def post(self, request, external_id: str):
        subscription = get_object_or_404(subscription_list(), external_id=external_id)
        url, expires_at = links.cancel_link(subscription=subscription)
        return Response(CancelLinkSerializer({"url": url, "expires_at": expires_at}).data)


class CaseStartView(APIView):
    required_scopes = {"POST": ApiScope.CANCELLATIONS_WRITE}

    @extend_schema(
        summary="Open a cancellation case with the customer's reason; returns the offers.",
        description=(
            "Resumes the subscription's open case if there is one (answered 200 instead of "
            "201). The offers come from the same engine as the web and phone flows."
        ),
        request=CaseStartSerializer,
        responses={
            201: CancellationCaseSerializer,
            200: CancellationCaseSerializer,
            **ERROR_RESPONSES,
            **CONFLICT,
        },
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request):
        def handle():
            serializer = CaseStartSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
            subscription = get_object_or_404(subscription_list(), external_id=data["subscription"])
            actor = _actor(request, data["channel"])
            opened = services.cancellation_open(
                subscription=subscription,
                actor=actor,
                reason=data["reason"],
                text=data["text"],
                competitor=data["competitor"],
                language=data.get("language", ""),
            )
            code = status.HTTP_201_CREATED if opened.created else status.HTTP_200_OK
            return _case_response(opened.case, code)

        return idempotent_post(request, self, handle)


class CaseDetailView(APIView):
    required_scopes = {"GET": ApiScope.READ}

    @extend_schema(responses={200: CancellationCaseSerializer, **ERROR_RESPONSES})
    def get(self, request, pk: int):
        return _case_response(get_object_or_404(CancellationCase, pk=pk))


class OfferAcceptView(APIView):
    required_scopes = {"POST": ApiScope.CANCELLATIONS_WRITE}

    @extend_schema(
        summary="Accept one of the case's offers: the subscription changes and the case is saved.",
        description="A call-back offer leaves the case open until the agent has called.",
        request=OfferAcceptSerializer,
        responses={200: CancellationCaseSerializer, **ERROR_RESPONSES, **CONFLICT},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request, pk: int):
        def handle():
            case = get_object_or_404(CancellationCase, pk=pk)
            serializer = OfferAcceptSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
            services.offer_accept(
                case=case,
                offer_id=data["offer"],
                actor=_actor(request, case.channel),
                options={
                    "months": data.get("months"),
                    "day": data.get("callback_day"),
                    "window": data.get("callback_window"),
                },
            )
            return _case_response(case)

        return idempotent_post(request, self, handle)


class DeclineView(APIView):
    required_scopes = {"POST": ApiScope.CANCELLATIONS_WRITE}

    @extend_schema(
        summary="The customer declines the offers: the subscription is set to end.",
        description="Ends with the paid period unless `immediately` is true.",
        request=DeclineSerializer,
        responses={200: CancellationCaseSerializer, **ERROR_RESPONSES, **CONFLICT},
        parameters=[IDEMPOTENCY_HEADER],
    )
    def post(self, request, pk: int):
        def handle():
            case = get_object_or_404(CancellationCase, pk=pk)
            serializer = DeclineSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            services.cancellation_decline(
                case=case, actor=_actor(request, case.channel), **serializer.validated_data
            )
            return _case_response(case)

        return idempotent_post(request, self, handle)
