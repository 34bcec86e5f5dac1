"""What a person is told when the platform refuses a step: by the problem's stable code, in
plain Chinese; a code not listed gets its status's words. Data, so that wording is reviewed in
one place."""

MESSAGES: dict[str, str] = {
    "invalid_grant": "手机号、密码或验证码不正确，请重新输入。",
    "invalid_sms_code": "验证码不正确或已过期，请重新获取。",
    "login_throttled": "尝试次数过多，请稍后再试。",
    "sms_code_throttled": "验证码发送太频繁，请稍后再试。",
    "account_disabled": "该账号已停用，请联系客服。",
    "invalid_id_number": "身份证号码格式不正确，请核对后重新输入。",
    "real_name_mismatch": "姓名与身份证号码不一致，请核对后重新输入。",
    "real_name_throttled": "核验次数过多，请稍后再试。",
    "face_mismatch": "人脸比对未通过，请重试。",
    "face_locked": "人脸识别失败次数过多，请稍后再试。",
    "challenge_used": "本次人脸识别已使用，请重新开始。",
    "challenge_expired": "人脸识别已超时，请重新开始。",
    "insufficient_assurance": "办理此事项需要先完成实名认证和人脸识别。",
    "applicant_mismatch": "申请人信息必须是您本人。",
    "validation_failed": "填写的内容有误，请按提示修改。",
    "case_not_found": "没有找到这件办件。",
    "case_not_completed": "办件办结后才能评价。",
    "already_rated": "您已评价过这件办件。",
    "precondition_failed": "办件刚刚有了变化，请查看最新状态后再操作。",
    "rate_limited": "操作太频繁，请稍后再试。",
    "upstream_unavailable": "服务暂时不可用，请稍后再试。",
    "database_unavailable": "服务暂时不可用，请稍后再试。",
    "not_staff": "请使用工作人员账号登录。",
}

BY_STATUS: dict[int, str] = {
    400: "请求有误，请检查后重试。",
    401: "登录已过期，请重新登录。",
    403: "您没有权限进行此操作。",
    404: "没有找到您要的内容。",
    409: "当前状态下不能进行此操作，请刷新后再试。",
    412: "内容刚刚有了变化，请查看最新状态后再操作。",
    422: "填写的内容有误，请按提示修改。",
    429: "操作太频繁，请稍后再试。",
}


def message_for(code: str, status: int) -> str:
    return MESSAGES.get(code) or BY_STATUS.get(status) or "服务暂时不可用，请稍后再试。"
