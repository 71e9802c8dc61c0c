<!-- RECONSTRUCTED by presswatch: mid.ru often answers feed paths with an HTML JavaScript cookie-challenge stub ("bobcmn") instead of RSS (SOURCES.md §3); this stands for that answer. The script body is ours -->
<!DOCTYPE html>
<html>
<head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<meta name="robots" content="noindex, nofollow">
<title></title>
<script type="text/javascript">
var bobcmn = "1111101010102000000022000000052000000002";
function bobcmnCheck() {
  /* sets a cookie, then reloads the page */
  document.cookie = "bobcmn=" + bobcmn + "; path=/";
  window.location.reload();
}
bobcmnCheck();
</script>
</head>
<body>
<noscript>Please enable JavaScript to view the page content.</noscript>
</body>
</html>
