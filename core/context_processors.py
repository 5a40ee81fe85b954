from django.conf import settings


def company(request) -> dict:
    return {
        "company_name": settings.TACK_COMPANY_NAME,
        "support_email": settings.TACK_SUPPORT_EMAIL,
        "support_phone": settings.TACK_SUPPORT_PHONE,
    }
