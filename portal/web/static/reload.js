// The docs are being built: look again in a few seconds.
setTimeout(function () { location.reload(); }, 4000);
