// Passkeys in the browser: the server (ASP.NET Core Identity) makes the WebAuthn options and checks the answers;
// this script only hands them to navigator.credentials and posts the results back as JSON.
(() => {
  'use strict';
  const b64u = {
    decode: (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4)), c => c.charCodeAt(0)).buffer,
    encode: (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''),
  };

  function creationOptions(json) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    return { ...json, challenge: b64u.decode(json.challenge), user: { ...json.user, id: b64u.decode(json.user.id) },
      excludeCredentials: (json.excludeCredentials || []).map(c => ({ ...c, id: b64u.decode(c.id) })) };
  }

  function requestOptions(json) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    return { ...json, challenge: b64u.decode(json.challenge), allowCredentials: (json.allowCredentials || []).map(c => ({ ...c, id: b64u.decode(c.id) })) };
  }

  function credentialJson(credential) {
    if (credential.toJSON) return JSON.stringify(credential);
    const r = credential.response;
    const response = { clientDataJSON: b64u.encode(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = b64u.encode(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    }
    if (r.authenticatorData) {
      response.authenticatorData = b64u.encode(r.authenticatorData);
      response.signature = b64u.encode(r.signature);
      response.userHandle = r.userHandle ? b64u.encode(r.userHandle) : null;
    }
    return JSON.stringify({ id: credential.id, rawId: b64u.encode(credential.rawId), type: credential.type,
      response, clientExtensionResults: credential.getClientExtensionResults(), authenticatorAttachment: credential.authenticatorAttachment });
  }

  async function problemText(response) {
    try {
      const problem = await response.json();
      return problem.detail || problem.title || `The server answered ${response.status}.`;
    } catch {
      return `The server answered ${response.status}.`;
    }
  }

  const post = (url, body) => fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body ?? {}) });

  const unsupported = 'This browser cannot use passkeys.';

  const add = document.getElementById('passkey-add');
  if (add) {
    const status = document.getElementById('passkey-status');
    add.hidden = false;
    add.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (!window.PublicKeyCredential) { status.textContent = unsupported; return; }
      status.textContent = 'Follow your browser or device…';
      try {
        const options = await post('api/identity/passkeys/creation-options');
        if (!options.ok) { status.textContent = await problemText(options); return; }
        const credential = await navigator.credentials.create({ publicKey: creationOptions(await options.json()) });
        const name = document.getElementById('passkey-name').value;
        const saved = await post('api/identity/passkeys', { credential: credentialJson(credential), name });
        if (!saved.ok) { status.textContent = await problemText(saved); return; }
        window.location.reload();
      } catch (err) {
        status.textContent = `No passkey was added (${err.name === 'NotAllowedError' ? 'cancelled' : err.message}).`;
      }
    });
  }

  const signIn = document.getElementById('passkey-signin');
  if (signIn) {
    const status = document.getElementById('passkey-signin-status');
    signIn.hidden = false;
    signIn.addEventListener('click', async () => {
      if (!window.PublicKeyCredential) { status.textContent = unsupported; return; }
      status.textContent = 'Follow your browser or device…';
      try {
        const options = await post('api/identity/passkeys/request-options');
        if (!options.ok) { status.textContent = await problemText(options); return; }
        const credential = await navigator.credentials.get({ publicKey: requestOptions(await options.json()) });
        const done = await post('api/identity/passkeys/signin', { credential: credentialJson(credential) });
        if (!done.ok) { status.textContent = await problemText(done); return; }
        window.location.assign(signIn.dataset.returnUrl || '/');
      } catch (err) {
        status.textContent = `Not signed in (${err.name === 'NotAllowedError' ? 'cancelled' : err.message}).`;
      }
    });
  }
})();
