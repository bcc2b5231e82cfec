// The scan page's camera. A button opens the rear camera; the first QR code seen fills the
// field and submits it. Codes are read by the browser itself (BarcodeDetector: Chrome and Edge)
// or, elsewhere, by the vendored jsQR decoder, loaded only then. Without a camera the page
// works as it is: a handheld scanner or the keyboard types into the field.
(function () {
  "use strict";
  var box = document.getElementById("camera");
  var form = document.getElementById("scan");
  if (!box || !form || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return;
  }
  var start = document.getElementById("camera-start");
  var video = document.getElementById("camera-view");
  var field = form.querySelector("input[name=code]");
  box.hidden = false;

  function found(stream, text) {
    stream.getTracks().forEach(function (t) { t.stop(); });
    field.value = text;
    form.submit();
  }

  // A reader: a function from the video to a promise of the code seen, or null.
  function nativeReader() {
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    return function () {
      return detector.detect(video).then(function (codes) {
        return codes.length > 0 ? codes[0].rawValue : null;
      });
    };
  }

  function jsqrReader() {
    var canvas = document.createElement("canvas");
    var context = canvas.getContext("2d", { willReadFrequently: true });
    return function () {
      var w = video.videoWidth, h = video.videoHeight;
      if (!w || !h) { return Promise.resolve(null); }
      canvas.width = w; canvas.height = h;
      context.drawImage(video, 0, 0, w, h);
      var code = window.jsQR(context.getImageData(0, 0, w, h).data, w, h, { inversionAttempts: "dontInvert" });
      return Promise.resolve(code ? code.data : null);
    };
  }

  function loadDecoder() {
    if ("BarcodeDetector" in window) { return Promise.resolve(nativeReader()); }
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = box.getAttribute("data-decoder");
      script.onload = function () { resolve(jsqrReader()); };
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  function look(read, stream) {
    read().then(function (text) {
      if (text) { found(stream, text); return; }
      window.setTimeout(function () { look(read, stream); }, 120);
    }).catch(function () {
      window.setTimeout(function () { look(read, stream); }, 250);
    });
  }

  start.addEventListener("click", function () {
    start.disabled = true;
    Promise.all([
      loadDecoder(),
      navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
    ]).then(function (ready) {
      var read = ready[0], stream = ready[1];
      video.srcObject = stream;
      video.hidden = false;
      start.hidden = true;
      return video.play().then(function () { look(read, stream); });
    }).catch(function () { start.disabled = true; });
  });
})();
