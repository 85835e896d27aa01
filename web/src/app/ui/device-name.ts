/**
 * A name for this device in the sessions list ("Chrome on Linux"), from the user agent. Only the
 * browser family and platform: enough for a person to recognise the device, nothing more.
 */

export function deviceName(userAgent: string = navigator.userAgent): string {
  return `${browserName(userAgent)} on ${platformName(userAgent)}`;
}

function browserName(ua: string): string {
  if (/Edg\//.test(ua)) return "Edge";
  if (/OPR\//.test(ua)) return "Opera";
  if (/Firefox\//.test(ua)) return "Firefox";
  if (/(Chrome|Chromium|CriOS)\//.test(ua)) return "Chrome";
  if (/Safari\//.test(ua)) return "Safari";
  return "A browser";
}

function platformName(ua: string): string {
  if (/Android/.test(ua)) return "Android";
  if (/iPhone|iPad|iPod/.test(ua)) return "iOS";
  if (/Mac OS X|Macintosh/.test(ua)) return "macOS";
  if (/Windows/.test(ua)) return "Windows";
  if (/CrOS/.test(ua)) return "ChromeOS";
  if (/Linux/.test(ua)) return "Linux";
  return "an unknown system";
}
