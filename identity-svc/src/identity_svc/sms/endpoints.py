"""HTTP endpoint for one-time sign-in codes by SMS (sign in with them at the token endpoint)."""

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
    """Send a six-digit sign-in code to a registered phone; the answer is the same for any
    phone. Then ``POST /identity/v1/token`` with ``grant_type=sms_code``, ``username`` (the
    phone) and ``code``."""
    sent = await service.send_code(
        session=session,
        runtime=runtime,
        sender=sender,
        phone=payload.phone,
        now=runtime.now(),
    )
    return SmsCodeSent(expires_in=sent.expires_in, resend_after=sent.resend_after)
