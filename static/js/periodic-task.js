// The periodic task form of django-celery-beat: show the chosen crontab in words.
// (The package ships this as an inline script, which the Content-Security-Policy refuses.)
(function () {
  "use strict";
  const $ = django.jQuery;
  const readable = JSON.parse(document.getElementById("readable-crontabs").textContent);
  const help = $(".field-crontab .help");
  const original = help.text();
  $(".field-crontab_translation").hide();
  $(".field-crontab").change(function () {
    const words = readable[$("#id_crontab").val()] || "";
    help.empty().append(document.createTextNode(original), "<br>", document.createTextNode("Translation: " + words));
  });
})();
