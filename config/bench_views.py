"""The baseline `make bench` measures the customers' pages against, routed only when
TACK_BENCH_VIEWS is on: the same stack (middleware, database, layout template) doing the least
a page can do — read one row and render it."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from subscriptions.models import Customer


@require_GET
def bare(request, pk: int):
    customer = Customer.objects.filter(pk=pk).only("name").first()
    return render(request, "bench/bare.html", {"customer": customer})
