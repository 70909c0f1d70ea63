// The API reference (/api/docs): swagger-ui, vendored under vendor/swagger-ui/
// (make vendor-swagger-ui), draws the OpenAPI document the server serves.
// A file of its own, not an inline script: the CSP allows script from this
// origin only.
"use strict";
(function () {
  var root = document.getElementById("api-reference");
  if (!root || typeof SwaggerUIBundle !== "function") {
    return;
  }
  SwaggerUIBundle({
    url: root.dataset.url,
    domNode: root,
    deepLinking: true,
    // Nothing leaves this origin: no validator badge from swagger.io.
    validatorUrl: null,
    // A reference, not a console: calls are made with curl or the client.
    supportedSubmitMethods: [],
    defaultModelsExpandDepth: 0,
  });
})();
