"""The administration of service items: department catalog administrators create items, edit
drafts and publish them as new versions, within the department type and tier they administer;
every act is kept in an audit trail."""
