"""HTTP endpoint for one-time codes by SMS, which prove the phone: register with one, or sign in
with it at the token endpoint."""

from fastapi import APIRouter, status

from identity_svc.deps import RuntimeDep, SmsSenderDep
from identity_svc.sms import service
from identity_svc.sms.schemas import SmsCodeCreate, SmsCodeSent
from identity_svc.sms.senders import SmsUnavailable
from identity_svc.sms.service import SmsCodeThrottled
from servicekit.db import SessionDep
from servicekit.openapi import problem_responses

router = APIRouter(prefix="/identity/v1", tags=["sms codes"])


@router.post(
    "/sms-codes",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SmsCodeSent,
    responses=problem_responses(SmsCodeThrottled, SmsUnavailable),
)
async def send_sms_code(
    payload: SmsCodeCreate, session: SessionDep, runtime: RuntimeDep, sender: SmsSenderDep
) -> SmsCodeSent:
    """Text a six-digit code to the phone, registered or not: the same text and the same
    answer for every phone. Then register with it (``POST /identity/v1/citizens``: phone,
    password, code) or sign in with it (``POST /identity/v1/token``, ``grant_type=sms_code``,
    ``username`` the phone, ``code``), which registers a phone that has no account yet."""
    sent = await service.send_code(
        session=session,
        runtime=runtime,
        sender=sender,
        phone=payload.phone,
        now=runtime.now(),
    )
    return SmsCodeSent(expires_in=sent.expires_in, resend_after=sent.resend_after)
