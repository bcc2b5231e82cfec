// The scan page's camera: where the browser reads QR codes itself (BarcodeDetector), a button
// opens the camera, and the first code seen fills the field and submits it. Elsewhere the page
// works as it is: a handheld scanner or the keyboard types into the field.
(function () {
  "use strict";
  var box = document.getElementById("camera");
  var form = document.getElementById("scan");
  if (!box || !form || !("BarcodeDetector" in window) || !navigator.mediaDevices) {
    return;
  }
  var start = document.getElementById("camera-start");
  var video = document.getElementById("camera-view");
  var field = form.querySelector("input[name=code]");
  box.hidden = false;
  start.addEventListener("click", function () {
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    navigator.mediaDevices
      .getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (stream) {
        video.srcObject = stream;
        video.hidden = false;
        start.hidden = true;
        return video.play().then(function () { look(detector, stream); });
      })
      .catch(function () { start.disabled = true; });
  });

  function look(detector, stream) {
    detector.detect(video).then(function (codes) {
      if (codes.length > 0) {
        stream.getTracks().forEach(function (t) { t.stop(); });
        field.value = codes[0].rawValue;
        form.submit();
        return;
      }
      window.requestAnimationFrame(function () { look(detector, stream); });
    }).catch(function () {
      window.setTimeout(function () { look(detector, stream); }, 250);
    });
  }
})();
