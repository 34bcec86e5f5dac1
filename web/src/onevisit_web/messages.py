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
    # The citizen's application, rating and data pages.
    "form_invalid": "填写的内容有误，请按提示修改。",
    "identity_field_locked": "姓名和身份证号码来自您的实名认证，不能修改。",
    "draft_filed": "这份申请已经提交过了。",
    "draft_application_not_found": "没有找到这份申请，请重新开始办理。",
    "handling_department_changed": "办理部门有变化，请重新开始办理。",
    "item_not_found": "没有找到这项服务。",
    "item_not_offered_in_region": "您所在地区暂不提供这项服务。",
    "no_responsible_department": "您所在地区暂不提供这项服务。",
    "consent_not_applicable": "这项授权已不适用，请刷新后再试。",
    "case_closed": "办件已结束，不能再授权。",
    "subject_not_linked": "请先完成实名认证和人脸识别。",
    "tags_not_of_level": "所选标签与满意程度不符，请重新选择。",
    "follow_up_not_due": "部门还没有反馈整改结果，暂时不能评价整改。",
    "rating_window_closed": "已超过评价期限。",
    "idempotency_request_in_progress": "正在提交，请稍候刷新查看。",
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
