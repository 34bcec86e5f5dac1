// Reads a step's instruction aloud on request (the elder mode's 朗读), with the browser's own
// speech synthesis; where the browser has none, the buttons are not shown.
(function () {
  "use strict";
  var buttons = document.querySelectorAll("button[data-speak]");
  if (!("speechSynthesis" in window)) {
    buttons.forEach(function (button) { button.hidden = true; });
    return;
  }
  buttons.forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-speak"));
      if (!source) { return; }
      var utterance = new SpeechSynthesisUtterance(source.textContent.trim());
      utterance.lang = "zh-CN";
      utterance.rate = 0.85;
      window.speechSynthesis.cancel();
      window.speechSynthesis.speak(utterance);
      document.documentElement.setAttribute("data-spoken", button.getAttribute("data-speak"));
    });
  });
})();
