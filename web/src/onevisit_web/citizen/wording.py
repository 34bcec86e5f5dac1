"""How the citizen's pages name the platform's codes, in plain Chinese: data, reviewed in one
place. A code not listed is shown as it is."""

#: How many times she must go in person (the catalogue's ``visits``).
VISITS = {"0": "不用跑，全程网上办", "1": "最多跑一次", "on_site": "需到窗口现场办理"}

#: Case statuses, as she reads them on her list and her case.
CASE_STATUS = {
    "submitted": "已提交",
    "supplement_requested": "待补正",
    "accepted": "已受理",
    "in_review": "审查中",
    "suspended": "中止中",
    "approval_pending": "待审批",
    "denial_pending": "待审批",
    "approved": "已批准",
    "completed": "已办结",
    "denied": "不予许可",
    "not_accepted": "不予受理",
    "withdrawn": "已撤回",
}

#: The steps of a case's history (``action``).
CASE_ACTION = {
    "submit": "提交申请",
    "accept": "受理",
    "not_accept": "不予受理",
    "request_supplement": "一次性告知补正",
    "supplement": "补正材料",
    "transfer": "转办",
    "start_review": "开始审查",
    "approve": "批准",
    "deny": "不予许可",
    "propose_approval": "拟批准",
    "propose_denial": "拟不予许可",
    "confirm": "审批确认",
    "send_back": "退回重审",
    "suspend": "中止",
    "resume": "恢复",
    "extend": "延长期限",
    "deliver": "送达结果",
    "complete": "办结",
    "withdraw": "撤回",
    "claim": "工作人员认领",
    "release": "工作人员释放",
    "assign": "分派",
}

#: Who took a step, as she is shown it.
ACTOR_ROLE = {
    "applicant": "您本人",
    "handler": "经办人",
    "supervisor": "审批人",
    "system": "系统自动",
}

#: Where a pre-filled value came from (a draft's ``provenance``).
SOURCE = {
    "verified_identity": "来自您的实名认证",
    "data_resource": "来自政府部门数据共享",
    "typed": "您填写的",
}

#: Why her data was read (the exchange's purpose codes); an unknown one is shown as its code.
PURPOSE = {
    "case_prefill": "自动填写申请表",
    "identity_verification": "核验身份",
    "real_name_verification": "实名认证",
    "face_verification": "人脸识别",
    "service_delivery": "办理服务",
}

#: What kind of access it was.
ACCESS_KIND = {"call": "读取", "match": "核对", "delivery": "推送"}

#: The inbox's kinds of message.
MESSAGE_KIND = {
    "case_filed": "办件已提交",
    "case_progressed": "办件有进展",
    "action_needed": "需要您处理",
    "case_completed": "办件已办结，请评价",
    "rectification_reported": "部门已整改，请再评价",
    "offer": "为您推荐的服务",
    "data_accessed": "您的数据被查询",
}

#: The deadline colours of an open case.
DEADLINE = {"green": "正常", "yellow": "临近期限", "red": "已超期"}

#: The platform's own services when they are the ones that read her data; a department is
#: shown by its id.
CONSUMER = {
    "identity-svc": "统一身份认证（实名和人脸核验）",
    "case-svc": "办件系统",
    "rating-svc": "好差评系统",
}
