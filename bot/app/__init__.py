"""The application: config and its checks, lifecycle, hot reload, active-strategy runner, pools."""
