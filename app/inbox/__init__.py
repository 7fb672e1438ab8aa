"""The staff inbox: task lists per view and the task page."""
