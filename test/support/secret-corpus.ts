// Realistic secrets in the formats dotfiles hold, and look-alikes that are not secrets. Every value is made up
// for the tests (and unique, so that a search of the forge's history for it means something).

export interface CorpusEntry {
  /** A file name it would have. */
  name: string
  content: string
  /** The part that must never reach the forge, a log or --json output (secrets only). */
  value?: string
}

export const SECRETS: CorpusEntry[] = [
  {name: 'npmrc', value: 'npm_Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7c', content: '//registry.npmjs.org/:_authToken=npm_Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7c\n'},
  {
    name: 'pypirc',
    value: 'pypi-AgEIcHlwaS5vcmcCJGQ3ZmRhNzJhLTk0ZjUtNDRmNC05ZTQ1LWYyY2M0ZDc1ZWY4MwACKlszLCJhYmMiXQ',
    content: '[pypi]\nusername = __token__\npassword = pypi-AgEIcHlwaS5vcmcCJGQ3ZmRhNzJhLTk0ZjUtNDRmNC05ZTQ1LWYyY2M0ZDc1ZWY4MwACKlszLCJhYmMiXQ\n',
  },
  {
    name: 'gh-hosts.yml',
    value: 'ghp_Zq8Wx2Ec4Rv6Tb8Yn1Um3Ik5Ol7Pa9Sd0Fg2H',
    content: 'github.com:\n  user: me\n  oauth_token: ghp_Zq8Wx2Ec4Rv6Tb8Yn1Um3Ik5Ol7Pa9Sd0Fg2H\n  git_protocol: ssh\n',
  },
  {
    name: 'aws-credentials',
    value: 'Zx8Kq2Lm9Np4Rs7Tv1Wy3Ab6Cd0Ef5Gh8Ij2Kl4m',
    content: '[default]\naws_access_key_id = AKIAZ7QWERTYUIOPASDF\naws_secret_access_key = Zx8Kq2Lm9Np4Rs7Tv1Wy3Ab6Cd0Ef5Gh8Ij2Kl4m\n',
  },
  {name: 'netrc', value: 'Qw3rty!Zx9Lp', content: 'machine api.example.com login me password Qw3rty!Zx9Lp\n'},
  {name: '.env', value: 'Xy7kq2Lmp9Zt', content: 'APP_NAME=demo\nDATABASE_PASSWORD=Xy7kq2Lmp9Zt\n'},
  {
    name: 's3cfg',
    value: 'Mn4Bv7Cx0Za3Sd6Fg9Hj2Kl5Po8Iu1Yt4Re7Wq0',
    content: '[default]\nhost_base = s3.amazonaws.com\nsecret_key = Mn4Bv7Cx0Za3Sd6Fg9Hj2Kl5Po8Iu1Yt4Re7Wq0\n',
  },
  {
    name: 'id_ed25519',
    value: 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW',
    content:
      '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACDnOVJkq0OqfKxv0pBqYqJqT8Cqp0QYk3hZlqLw1Y2UeQAAAJgAAAAA\n-----END OPENSSH PRIVATE KEY-----\n',
  },
  {
    name: 'server.key',
    value: 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj',
    content: '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n-----END PRIVATE KEY-----\n',
  },
  {
    name: 'rsa.pem',
    value: 'MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi0ZYk8o4M5tn8Zp2Rn3w1gq0Xc',
    content: '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi0ZYk8o4M5tn8Zp2Rn3w1gq0Xc\n-----END RSA PRIVATE KEY-----\n',
  },
  {name: 'db.conf', value: 'Pg5ecretPa55', content: 'url = postgres://app:Pg5ecretPa55@db.internal:5432/app\n'},
  {
    name: 'kubeconfig',
    value: 'eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl',
    content:
      'apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user:\n    token: eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJl\n',
  },
]

export const LOOK_ALIKES: CorpusEntry[] = [
  {name: 'id_ed25519.pub', content: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@laptop\n'},
  {
    name: 'authorized_keys',
    content:
      'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@laptop\nssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7VJTUt9Us8cKjMzEfYyjiWA4R4 you@desktop\n',
  },
  {name: 'known_hosts', content: 'github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n'},
  {
    name: 'package-lock.json',
    content:
      '{\n  "packages": {\n    "node_modules/x": {\n      "version": "1.0.0",\n      "resolved": "https://registry.npmjs.org/x/-/x-1.0.0.tgz",\n      "integrity": "sha512-Zq8Wx2Ec4Rv6Tb8Yn1Um3Ik5Ol7Pa9Sd0Fg2HZq8Wx2Ec4Rv6Tb8Yn1Um3Ik5Ol7Pa9Sd0Fg2H=="\n    }\n  }\n}\n',
  },
  {name: 'ids.txt', content: 'session 3f2b8c1e-9d4a-4e7b-8c2f-1a5d6e7f8a9b\ncommit 9fceb02d0ae598e95dc970b74767f19372d61af8\n'},
  {name: 'settings.json', content: '{\n  "theme": "dark",\n  "tokenColors": [],\n  "editor.fontSize": 14,\n  "passwordStore": "gnome-libsecret"\n}\n'},
  {name: 'zshrc', content: 'export GITHUB_TOKEN="$(gh auth token)"\nexport NPM_TOKEN=${NPM_TOKEN:-}\nalias k=kubectl\n'},
]
