// Progressive enhancement for the editor pages: every form works without this file.
"use strict";
(function () {
  const meta = document.querySelector('meta[name="csrf-token"]');
  // The CSRF token for requests made from JavaScript (forms carry it as a hidden field).
  window.newsletterCsrf = meta ? meta.content : "";
})();
